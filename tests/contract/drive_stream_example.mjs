// Drives examples/js/stream-chat.mjs for the tests: runs streamChat() with the options given as JSON
// in argv[3] against argv[2], and prints what happened as JSON lines, in order.
import { streamChat, ChatFailed } from "../../examples/js/stream-chat.mjs";

const [baseUrl, options] = process.argv.slice(2);
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
try {
  const done = await streamChat(baseUrl, {
    ...JSON.parse(options),
    onSession: (sessionId) => print({ session: sessionId }),
    onDelta: (text) => print({ delta: text }),
  });
  print({ done });
} catch (error) {
  if (!(error instanceof ChatFailed)) throw error;
  print({ failed: { status: error.status, code: error.code, message: error.message, retry_after: error.retryAfter } });
}
