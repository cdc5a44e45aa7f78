// Writes docs/asyncapi.json from libs/contracts: `npm run asyncapi`.
import { buildAsyncApiDocument } from '@athenic/contracts';
import * as fs from 'node:fs';
import * as path from 'node:path';

const target = path.resolve(process.argv[2] ?? 'docs/asyncapi.json');
fs.writeFileSync(target, `${JSON.stringify(buildAsyncApiDocument(), null, 2)}\n`);
process.stdout.write(`wrote ${target}\n`);
