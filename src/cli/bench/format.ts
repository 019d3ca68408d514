// Number formatting shared by the terminal table and the HTML report, and the --payloads parser.

/** µs as a short time: "4.12 µs", "1.30 ms", "2.00 s"; "—" for a missing figure. */
export function time(us: number): string {
  if (!Number.isFinite(us)) return '—'
  if (us < 1000) return `${us < 10 ? us.toFixed(2) : us < 100 ? us.toFixed(1) : us.toFixed(0)} µs`
  if (us < 1e6) return `${(us / 1000).toFixed(2)} ms`
  return `${(us / 1e6).toFixed(2)} s`
}

/** µs as an axis tick: "10 µs", "2 ms", "1.5 s" (no trailing zeros). */
export function tickTime(us: number): string {
  const [v, unit] = us < 1000 ? [us, 'µs'] : us < 1e6 ? [us / 1000, 'ms'] : [us / 1e6, 's']
  return `${Number(v.toPrecision(3))} ${unit}`
}

/** Calls per second, short: "812/s", "41.2k/s", "1.05M/s". */
export function rate(perSec: number): string {
  if (!Number.isFinite(perSec)) return '—'
  if (perSec < 1000) return `${perSec.toFixed(0)}/s`
  if (perSec < 1e6) return `${(perSec / 1000).toFixed(perSec < 1e5 ? 1 : 0)}k/s`
  return `${(perSec / 1e6).toFixed(2)}M/s`
}

/** A ratio: "1.21×"; "—" when missing. */
export function ratio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : '—'
}

/** A count, short: "950", "52.1k", "1.2M". */
export function count(n: number): string {
  if (n < 1000) return String(n)
  if (n < 1e6) return `${(n / 1000).toFixed(1)}k`
  return `${(n / 1e6).toFixed(1)}M`
}

/** A payload size: "1 B", "1 KiB", "64 KiB", "1 MiB". */
export function bytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`
  return `${n} B`
}

/**
 * Parses a size list such as "1,1k,64k,1m" (k = 1024, m = 1024²) into byte counts. Throws a
 * TypeError naming the item that is not a size (0 and above 64 MiB included).
 */
export function parseSizes(list: string): number[] {
  return list.split(',').map((item) => {
    const m = /^\s*(\d+)\s*([km]?)i?b?\s*$/i.exec(item)
    const n = m ? Number(m[1]) * (m[2]?.toLowerCase() === 'k' ? 1024 : m[2]?.toLowerCase() === 'm' ? 1024 * 1024 : 1) : NaN
    if (!(n >= 1 && n <= 64 * 1024 * 1024)) throw new TypeError(`'${item}' is not a payload size (use bytes with an optional k or m: 1,1k,64k,1m; at most 64m)`)
    return n
  })
}
