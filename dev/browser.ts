// Headless Chromium from the system's packages (Debian: `apt-get install -y chromium`), driven by
// puppeteer-core, which never downloads a browser. For tests, the bench and the docs' screenshots.
import { access } from 'node:fs/promises';
import { launch, type Browser, type Page } from 'puppeteer-core';

const candidates = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The browser to drive: CHROMIUM_PATH, else the first system browser found. */
export async function chromiumPath(): Promise<string> {
  const paths = process.env.CHROMIUM_PATH ? [process.env.CHROMIUM_PATH] : candidates;
  for (const path of paths) {
    if (
      await access(path).then(
        () => true,
        () => false,
      )
    )
      return path;
  }
  throw new Error(
    `No Chromium found (looked at ${paths.join(', ')}). Install it with 'apt-get install -y chromium' or set CHROMIUM_PATH.`,
  );
}

export async function launchChromium(): Promise<Browser> {
  return launch({
    executablePath: await chromiumPath(),
    headless: true,
    // --no-sandbox: CI and these machines run as root, where Chromium's sandbox refuses to start.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

/** Every request a page makes after this call, so a test can tell that nothing left the machine. */
export function recordRequests(page: Page): string[] {
  const urls: string[] = [];
  page.on('request', (request) => urls.push(request.url()));
  return urls;
}
