import { DomainError } from '@athenic/contracts';
import { loadConfig } from '../config/env';
import { Models } from './models';

const base = { INTERNAL_SECRET: 's'.repeat(40) };

describe('the model of a run', () => {
  it('is refused with what to set when none is configured', () => {
    const models = new Models(loadConfig(base));
    expect(() => models.resolve()).toThrow(
      new DomainError(
        'service_unavailable',
        'No model is configured: set AGENT_MODEL=openai:<model> with OPENAI_API_KEY (and OPENAI_BASE_URL for a compatible server), or AGENT_MODEL=anthropic:<model> with ANTHROPIC_API_KEY.',
      ),
    );
  });

  it('comes from the request, else from AGENT_MODEL, and needs its provider key', () => {
    const models = new Models(
      loadConfig({ ...base, AGENT_MODEL: 'openai:gpt-test', OPENAI_API_KEY: 'k' }),
    );
    expect(models.resolve()).toBe('openai:gpt-test');
    expect(() => models.resolve('anthropic:claude-x')).toThrow(
      'The model anthropic:claude-x needs ANTHROPIC_API_KEY; it is not set.',
    );
    expect(() =>
      new Models(loadConfig({ ...base, AGENT_MODEL: 'openai:gpt-test' })).resolve(),
    ).toThrow('needs OPENAI_API_KEY');
  });

  it('refuses a malformed AGENT_MODEL at start, naming it', () => {
    expect(() => loadConfig({ ...base, AGENT_MODEL: 'gpt-4' })).toThrow(
      'AGENT_MODEL must be openai:<model> or anthropic:<model>',
    );
  });
});
