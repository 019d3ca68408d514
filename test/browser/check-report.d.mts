// Types of check-report.mjs.
import type { Page } from 'playwright-core'
import type { BenchReport } from '../../src/cli/bench/results.ts'

export function checkReport(page: Page, fileUrl: string, report: BenchReport): Promise<{ firstBar: string | undefined; charts: number }>
