import type { WidgetProps } from '@rjsf/utils';
import { useState } from 'react';

/** A secret credential: masked, with a toggle to show it. */
export function SecretWidget(props: WidgetProps) {
  const [shown, setShown] = useState(false);
  return (
    <span className="secret">
      <input
        id={props.id}
        name={props.name}
        type={shown ? 'text' : 'password'}
        autoComplete="off"
        value={typeof props.value === 'string' ? props.value : ''}
        required={props.required}
        disabled={props.disabled || props.readonly}
        onChange={(e) => props.onChange(e.target.value === '' ? undefined : e.target.value)}
        onBlur={(e) => props.onBlur(props.id, e.target.value)}
        onFocus={(e) => props.onFocus(props.id, e.target.value)}
      />
      <button
        type="button"
        aria-label={shown ? `Hide ${props.label}` : `Show ${props.label}`}
        onClick={() => setShown((s) => !s)}
      >
        {shown ? 'Hide' : 'Show'}
      </button>
    </span>
  );
}
