import type { ReactNode } from 'react';

/** Inline SVG icons: no icon font or emoji font is needed on the machine (headless browsers often lack one). */
const base = { width: 15, height: 15, viewBox: '0 0 24 24', fill: 'none', stroke: 'currentColor', strokeWidth: 2, strokeLinecap: 'round', strokeLinejoin: 'round', 'aria-hidden': true } as const;

export function TrashIcon() {
  return (
    <svg {...base}>
      <path d="M3 6h18M8 6V4h8v2M19 6l-1 14H6L5 6M10 11v6M14 11v6" />
    </svg>
  );
}

export function PencilIcon() {
  return (
    <svg {...base}>
      <path d="M12 20h9M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4Z" />
    </svg>
  );
}

export function UserIcon() {
  return (
    <svg {...base}>
      <circle cx="12" cy="8" r="4" />
      <path d="M4 21a8 8 0 0 1 16 0" />
    </svg>
  );
}

/**
 * A button showing only an icon: its label is both what a screen reader says (aria-label) and the
 * tooltip a pointer shows (title), so the two can never drift apart.
 */
export function IconButton({ label, icon, onClick, testId }: { label: string; icon: ReactNode; onClick(): void; testId?: string }) {
  return (
    <button type="button" className="icon-button" onClick={onClick} aria-label={label} title={label} data-testid={testId}>
      {icon}
    </button>
  );
}
