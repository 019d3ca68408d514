// RESULTS.md: tables of figures and ratios, and the targets with pass/fail. Formatting only.
import os from 'node:os'
import type { Summary } from './measure.ts'

export interface Table {
  title: string
  /** One short paragraph under the title: what was timed, what the ratio means. */
  note: string
  columns: string[]
  rows: string[][]
}

export interface Target {
  name: string
  goal: string
  measured: string
  pass: boolean
}

export function us(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)
}

export function times(x: number): string {
  return `${x.toFixed(2)}×`
}

/** "1.12× (1.05–1.20)": median of per-round ratios, with its quartiles. */
export function ratioCell(s: Summary): string {
  return `${times(s.ratio)} (${s.ratioLo.toFixed(2)}–${s.ratioHi.toFixed(2)})`
}

/** "1.10 / 1.15 / 1.20 / 1.08": the median ratio in each quarter of the run, in time order. */
export function quartersCell(s: Summary): string {
  return s.quarters.map((q) => q.toFixed(2)).join(' / ')
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`
}

export function machine(): string {
  const cpus = os.cpus()
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${mib(os.totalmem())} RAM, ${os.type()} ${os.release()} ${os.arch()}`
}

function markdownTable(t: Table): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`
  return [`### ${t.title}`, '', t.note, '', line(t.columns), line(t.columns.map(() => '---')), ...t.rows.map(line)].join('\n')
}

export function render(opts: { date: Date; seconds: number; how: string; tables: Table[]; targets: Target[] }): string {
  const targetTable: Table = {
    title: 'Targets',
    note: 'From DESIGN.md ("How it is measured"), on this machine, in this run.',
    columns: ['target', 'goal', 'measured', 'result'],
    rows: opts.targets.map((t) => [t.name, t.goal, t.measured, t.pass ? 'pass' : '**FAIL**']),
  }
  return [
    '# farside benchmark results',
    '',
    `- date: ${opts.date.toISOString()}`,
    `- node: ${process.version} (V8 ${process.versions.v8})`,
    `- machine: ${machine()}`,
    `- run time: ${opts.seconds.toFixed(0)} s`,
    '',
    '## How measured',
    '',
    opts.how,
    '',
    markdownTable(targetTable),
    '',
    ...opts.tables.flatMap((t) => [markdownTable(t), '']),
  ].join('\n')
}

/** A Table as aligned plain text, for the terminal. */
export function textTable(t: Table): string {
  const all = [t.columns, ...t.rows]
  const widths = t.columns.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  return [line(t.columns), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)].join('\n')
}
