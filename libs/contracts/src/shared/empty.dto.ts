/** A payload or reply that carries no fields. */
export class Empty {}
