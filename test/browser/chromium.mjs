// A real headless browser for the report tests and the README screenshot: the Chromium that
// @sparticuz/chromium ships inside its npm package (decompressed to the temp folder on first use,
// nothing downloaded), driven by playwright-core. Plain JavaScript: test/dist uses it too.
import chromiumBinary from '@sparticuz/chromium'
import { chromium } from 'playwright-core'

/** Launches headless Chromium; close it with `browser.close()`. */
export async function launch() {
  const executablePath = await chromiumBinary.executablePath()
  // its args are for serverless hosts; --single-process there makes a closed page take the
  // whole browser down, so the next newPage() fails
  const args = chromiumBinary.args.filter((a) => a !== '--single-process')
  return chromium.launch({ executablePath, args, headless: true })
}
