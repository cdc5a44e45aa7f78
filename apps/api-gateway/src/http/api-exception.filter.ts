import { DomainError } from '@athenic/contracts';
import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import type { Response } from 'express';
import { RateLimitedError } from '../limits/rate-limits';
import { type ErrorResponse, errorResponse, sendError } from './error-response';

/**
 * Turns every failure into the API's error body: domain errors by their code, Nest's own HTTP
 * errors (unknown route, ...) by status, anything else into a 500 that reveals nothing inside.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly log = new Logger('Http');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) return;
    sendError(
      res,
      this.toBody(exception),
      exception instanceof RateLimitedError ? { 'retry-after': String(exception.retryAfterS) } : {},
    );
  }

  private toBody(exception: unknown): ErrorResponse {
    if (exception instanceof DomainError)
      return errorResponse(exception.code, exception.message, exception.details);
    if (exception instanceof HttpException) {
      switch (exception.getStatus()) {
        case HttpStatus.NOT_FOUND:
          return errorResponse('not_found', 'No such route or resource; see /docs for the API.');
        case HttpStatus.PAYLOAD_TOO_LARGE:
          return errorResponse('payload_too_large', 'The request body is too large.');
        case HttpStatus.BAD_REQUEST:
          return errorResponse('validation_failed', 'The request is invalid.');
        default:
          break;
      }
    }
    this.log.error(
      `Unhandled failure: ${exception instanceof Error ? (exception.stack ?? exception.message) : String(exception)}`,
    );
    return errorResponse(
      'internal_error',
      'Something went wrong on our side; try again, and report it if it persists.',
    );
  }
}
