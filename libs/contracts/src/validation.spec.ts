import { IsInt, IsOptional, IsString, ValidateNested } from 'class-validator';
import { Type } from 'class-transformer';
import { validatePayload } from './validation';

class Inner {
  @IsInt()
  count: number;
}

class Outer {
  @IsString()
  name: string;

  @IsOptional()
  @IsString()
  note?: string;

  @ValidateNested()
  @Type(() => Inner)
  inner: Inner;
}

describe('validatePayload', () => {
  it('refuses a NUL character anywhere, naming where (PostgreSQL would refuse it later)', async () => {
    expect(await validatePayload(Outer, { name: 'a\u0000b', inner: { count: 1 } })).toEqual({
      ok: false,
      errors: ['name contains a NUL character'],
    });
    expect(
      await validatePayload(Outer, { name: 'a', inner: { count: 1, deep: ['x', 'y\u0000'] } }),
    ).toEqual({ ok: false, errors: ['inner.deep.1 contains a NUL character'] });
    expect(await validatePayload(Outer, { name: 'a', inner: { 'k\u0000': 1 } })).toEqual({
      ok: false,
      errors: ['inner contains a NUL character'],
    });
  });

  it('refuses a prototype key at any depth, naming where, instead of failing to read the payload', async () => {
    for (const [data, where] of [
      [JSON.parse('{"name":"a","inner":{"count":1,"__proto__":{"x":1}}}'), 'inner.__proto__'],
      [
        { name: 'a', inner: { count: 1, deep: [{ constructor: { prototype: {} } }] } },
        'inner.deep.0.constructor',
      ],
      [{ name: 'a', prototype: 1 }, 'prototype'],
    ] as const) {
      expect(await validatePayload(Outer, data)).toEqual({
        ok: false,
        errors: [`${where} is a field name no payload may use`],
      });
    }
  });

  it('accepts a valid payload and returns an instance of the contract class', async () => {
    const result = await validatePayload(Outer, { name: 'a', inner: { count: 1 } });
    expect(result.ok).toBe(true);
    expect(result.ok && result.value).toBeInstanceOf(Outer);
  });

  it('names an unknown field', async () => {
    expect(await validatePayload(Outer, { name: 'a', inner: { count: 1 }, extra: 1 })).toEqual({
      ok: false,
      errors: ['extra is not a known field'],
    });
  });

  it('says a missing field is required, once', async () => {
    expect(await validatePayload(Outer, { inner: { count: 1 } })).toEqual({
      ok: false,
      errors: ['name is required'],
    });
  });

  it('names a nested field with a dotted path', async () => {
    expect(await validatePayload(Outer, { name: 'a', inner: { count: 'x' } })).toEqual({
      ok: false,
      errors: ['inner.count must be an integer number'],
    });
  });

  it('refuses what is not a JSON object', async () => {
    expect(await validatePayload(Outer, [1])).toEqual({
      ok: false,
      errors: ['payload must be a JSON object'],
    });
    expect(await validatePayload(Outer, null)).toEqual({
      ok: false,
      errors: ['payload must be a JSON object'],
    });
  });
});
