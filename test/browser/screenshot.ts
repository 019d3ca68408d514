// Takes the README's screenshot of a report (the top of the page, 1020 px wide, HEIGHT px tall, or
// all of it with --full): node --import tsx test/browser/screenshot.ts REPORT.html OUT.png [HEIGHT] [--full]
import { pathToFileURL } from 'node:url'
import { resolve } from 'node:path'
import { launch } from './chromium.mjs'

const [report, out, height] = process.argv.slice(2)
if (!report || !out) throw new Error('usage: screenshot.ts REPORT.html OUT.png')
const browser = await launch()
try {
  const page = await browser.newPage({ viewport: { width: 1020, height: Number(height) || 900 }, deviceScaleFactor: 1 })
  await page.goto(pathToFileURL(resolve(report)).href)
  await page.screenshot({ path: out, fullPage: process.argv.includes('--full') })
} finally {
  await browser.close()
}
