import type { NestExpressApplication } from '@nestjs/platform-express';
import express, { type NextFunction, type Request, type Response } from 'express';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errorResponse, sendError } from './error-response';

/**
 * The web console at /console (apps/console, built by the start command): its hashed assets
 * cached for a year, its page never (a new build is seen at once), every other /console path
 * the page (the console routes in the browser). No key is needed for these files: the console
 * asks for one and sends it to the API only. The CSP of every answer (security.ts) allows only
 * the gateway itself, which is all the console loads.
 */
export function serveConsole(app: NestExpressApplication, dir: string): void {
  const page = path.join(dir, 'index.html');
  app.use(
    '/console/assets',
    express.static(path.join(dir, 'assets'), {
      immutable: true,
      maxAge: '365d',
      index: false,
      fallthrough: false,
    }),
  );
  app.use('/console', (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (!fs.existsSync(page))
      return sendError(
        res,
        errorResponse(
          'not_found',
          `The console is not built (no ${page}); the start command builds it (npm run build:console).`,
        ),
      );
    res.setHeader('cache-control', 'no-cache');
    res.sendFile(page);
  });
}
