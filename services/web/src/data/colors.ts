// Distinct, readable on white; a run's colour is its position in the selection.
export const PALETTE = [
  "#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#65a30d",
  "#ea580c", "#4f46e5", "#be123c", "#0d9488", "#a16207", "#9333ea", "#475569", "#16a34a",
  "#c026d3", "#0284c7", "#b45309", "#e11d48",
];

export function colorAt(i: number): string {
  return PALETTE[i % PALETTE.length];
}
