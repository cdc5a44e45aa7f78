import { Matches } from 'class-validator';

/** `account_id`: an opaque string of 1-128 characters of [A-Za-z0-9._:-]. */
export const ACCOUNT_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export function IsAccountId(): PropertyDecorator {
  return Matches(ACCOUNT_ID_PATTERN, {
    message: '$property must be 1-128 characters of letters, digits, ".", "_", ":" or "-"',
  });
}
