import { DomainError } from '@athenic/contracts';
import { anthropic, openai } from '@inngest/agent-kit';
import { Inject, Injectable } from '@nestjs/common';
import { AGENT_CONFIG, type AgentConfig, MODEL_PATTERN } from '../config/env';

export type ModelAdapter = ReturnType<typeof openai> | ReturnType<typeof anthropic>;

/**
 * The model of a run: the request's `model`, else AGENT_MODEL; `openai:<model>` (any
 * OpenAI-compatible server through OPENAI_BASE_URL) or `anthropic:<model>`. Keys are never
 * generated; without one the run is refused with what to set.
 */
@Injectable()
export class Models {
  constructor(@Inject(AGENT_CONFIG) private readonly config: AgentConfig) {}

  /** The model spec a run will use; throws service_unavailable when none is usable. */
  resolve(requested?: string): string {
    const spec = requested ?? this.config.env.AGENT_MODEL;
    if (!spec) {
      throw new DomainError(
        'service_unavailable',
        'No model is configured: set AGENT_MODEL=openai:<model> with OPENAI_API_KEY (and OPENAI_BASE_URL for a compatible server), or AGENT_MODEL=anthropic:<model> with ANTHROPIC_API_KEY.',
      );
    }
    if (!MODEL_PATTERN.test(spec))
      throw new DomainError(
        'validation_failed',
        'model must be openai:<model> or anthropic:<model>.',
      );
    const provider = spec.slice(0, spec.indexOf(':'));
    if (provider === 'openai' && !this.config.env.OPENAI_API_KEY) {
      throw new DomainError(
        'service_unavailable',
        `The model ${spec} needs OPENAI_API_KEY (and OPENAI_BASE_URL for a compatible server); it is not set.`,
      );
    }
    if (provider === 'anthropic' && !this.config.env.ANTHROPIC_API_KEY) {
      throw new DomainError(
        'service_unavailable',
        `The model ${spec} needs ANTHROPIC_API_KEY; it is not set.`,
      );
    }
    return spec;
  }

  adapter(spec: string): ModelAdapter {
    const separator = spec.indexOf(':');
    const provider = spec.slice(0, separator);
    const model = spec.slice(separator + 1);
    if (provider === 'anthropic') {
      return anthropic({
        model,
        apiKey: this.config.env.ANTHROPIC_API_KEY,
        defaultParameters: { max_tokens: 4096 },
      });
    }
    const baseUrl = this.config.env.OPENAI_BASE_URL.endsWith('/')
      ? this.config.env.OPENAI_BASE_URL
      : `${this.config.env.OPENAI_BASE_URL}/`;
    return openai({ model, apiKey: this.config.env.OPENAI_API_KEY, baseUrl });
  }
}
