/** Who is calling: the platform's service role (acts for any account). Account keys and run tokens come later. */
export type Principal = { kind: 'service' };

declare module 'express-serve-static-core' {
  interface Request {
    /** The correlation id of the request. */
    id?: string;
    principal?: Principal;
  }
}
