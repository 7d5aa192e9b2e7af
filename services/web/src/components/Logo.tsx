export function Logo({ small = false }: { small?: boolean }) {
  return (
    <span className={`logo ${small ? "logo-sm" : ""}`}>
      <svg width={small ? 18 : 24} height={small ? 18 : 24} viewBox="0 0 24 24" aria-hidden="true">
        <rect width="24" height="24" rx="6" fill="#2563eb" />
        <path d="M5 16 L10 10 L14 13 L19 6" stroke="#fff" strokeWidth="2.2" fill="none" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
      <span>Runyard</span>
    </span>
  );
}
