import { DomainError, formatValidationErrors } from '@athenic/contracts';
import { ValidationPipe } from '@nestjs/common';

/** Bodies and queries are checked against their classes; unknown fields are refused, each problem named. */
export function apiValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    forbidUnknownValues: false,
    exceptionFactory: (errors) => {
      const details = formatValidationErrors(errors);
      return new DomainError(
        'validation_failed',
        `Invalid request: ${details[0] ?? 'bad input'}.`,
        details,
      );
    },
  });
}
