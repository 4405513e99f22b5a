// A minimal agentledger webhook endpoint in Node (no dependencies): it
// checks each delivery's signature and prints the event.
//
//   AGENTLEDGER_WEBHOOK_SECRET=whsec_… PORT=9000 node examples/webhook-receiver/receiver.mjs
import { createServer } from "node:http";
import { createHmac, timingSafeEqual } from "node:crypto";

// verify checks X-Agentledger-Signature ("t=<unix>,v1=<hex>") against the
// raw body: HMAC-SHA256 of "<t>.<body>" under the secret, and a timestamp
// no more than 5 minutes away.
export function verify(secret, header = "", rawBody, nowSeconds = Date.now() / 1000) {
  let t;
  const sigs = [];
  for (const part of header.split(",")) {
    const [k, v] = part.split("=", 2);
    if (k === "t") t = v;
    else if (k === "v1") sigs.push(v);
  }
  if (!t || !(Math.abs(nowSeconds - Number(t)) <= 300)) return false;
  const want = createHmac("sha256", secret).update(`${t}.`).update(rawBody).digest();
  return sigs.some((s) => {
    const sig = Buffer.from(s, "hex");
    return sig.length === want.length && timingSafeEqual(sig, want);
  });
}

const secret = process.env.AGENTLEDGER_WEBHOOK_SECRET;
if (!secret) throw new Error("set AGENTLEDGER_WEBHOOK_SECRET");
createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    if (!verify(secret, req.headers["x-agentledger-signature"], body)) {
      res.writeHead(401).end("bad signature");
      return;
    }
    const event = JSON.parse(body);
    console.log(`${event.id} ${event.type} ${JSON.stringify(event.data)}`);
    res.writeHead(204).end();
  });
}).listen(Number(process.env.PORT ?? 9000), "127.0.0.1", () => console.error("listening"));
