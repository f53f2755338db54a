/** Polls until the check passes: tests wait for asynchronous delivery, never for time to pass. */
export async function eventually(check: () => Promise<boolean> | boolean, options: { timeoutMs?: number; what?: string } = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${options.what ?? 'condition'}`);
}
