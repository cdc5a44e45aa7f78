import { IsInt, Max, Min } from 'class-validator';
import { CommonEnv, EnvError, validateEnv } from './env';

class TestEnv extends CommonEnv {
  @IsInt({ message: 'PORT must be an integer' })
  @Min(1)
  @Max(65535)
  PORT: number = 3000;
}

describe('validateEnv', () => {
  it('fills defaults that work against the local Postgres and RabbitMQ', () => {
    const env = validateEnv(TestEnv, {});
    expect(env).toMatchObject({
      PORT: 3000,
      NODE_ENV: 'development',
      AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/postgres',
    });
  });

  it('converts numbers from their text', () => {
    expect(validateEnv(TestEnv, { PORT: '8080' }).PORT).toBe(8080);
  });

  it('names each bad variable, without echoing its value', () => {
    let error: unknown;
    try {
      validateEnv(TestEnv, { PORT: 'secret-looking-value', AMQP_URL: 'http://nope' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EnvError);
    const message = (error as Error).message;
    expect(message).toContain('PORT: PORT must be an integer');
    expect(message).toContain('AMQP_URL: AMQP_URL must be an amqp:// or amqps:// URL');
    expect(message).not.toContain('secret-looking-value');
  });

  it('reads EGRESS_ALLOW_PRIVATE and names the item it cannot read', () => {
    expect(
      validateEnv(TestEnv, { EGRESS_ALLOW_PRIVATE: 'db.internal:5432,10.0.0.0/8' })
        .EGRESS_ALLOW_PRIVATE,
    ).toBe('db.internal:5432,10.0.0.0/8');
    expect(() => validateEnv(TestEnv, { EGRESS_ALLOW_PRIVATE: '10.0.0.0/8,db.internal' })).toThrow(
      'EGRESS_ALLOW_PRIVATE: "db.internal" must be host:port, an IP address or a CIDR block, each with an optional :port',
    );
  });

  it('ignores variables it does not know', () => {
    expect(() => validateEnv(TestEnv, { UNRELATED: 'x' })).not.toThrow();
  });
});
