import helmet from 'helmet';
import { type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorResponse } from './error-response';

/**
 * The security headers of every answer, REST and MCP alike (helmet): no sniffing, no framing,
 * no referrer, HSTS, and a content security policy that allows only the gateway itself (the
 * API docs page included).
 */
export const securityHeaders: (
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      fontSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      frameAncestors: ["'none'"],
      formAction: ["'self'"],
    },
  },
  crossOriginResourcePolicy: { policy: 'same-origin' },
  referrerPolicy: { policy: 'no-referrer' },
});

/**
 * A request Node cannot even parse (headers over its 16 KiB limit, a NUL in the request line)
 * never reaches a route; it still gets the API's error body, not a bare status line.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const body = JSON.stringify(
      error.code === 'HPE_HEADER_OVERFLOW'
        ? errorResponse(
            'request_header_too_large',
            'The request headers exceed 16 KiB; send fewer or shorter headers.',
          )
        : errorResponse('validation_failed', 'The request is not valid HTTP/1.1.'),
    );
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        'content-type: application/json; charset=utf-8\r\n' +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        'connection: close\r\n\r\n' +
        body,
    );
  });
}
