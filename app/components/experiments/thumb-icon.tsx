/** A thumb drawn in SVG: emoji fonts are not guaranteed on the machines Enclave runs on. */
export function ThumbIcon({ up, filled = false }: { up: boolean; filled?: boolean }) {
  return (
    <svg width="15" height="15" viewBox="0 0 24 24" aria-hidden style={{ verticalAlign: '-2px', transform: up ? undefined : 'rotate(180deg)' }}>
      <path
        d="M7 10v11H3V10h4zm2 11h8.3a2 2 0 0 0 2-1.6l1.4-7A2 2 0 0 0 18.7 10H14l.9-4.4a1.6 1.6 0 0 0-2.9-1.2L9 9.5V21z"
        fill={filled ? 'currentColor' : 'none'}
        stroke="currentColor"
        strokeWidth="1.6"
        strokeLinejoin="round"
      />
    </svg>
  );
}
