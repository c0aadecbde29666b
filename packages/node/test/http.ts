/** Raw HTTP(S) requests and a self-signed certificate, for the tests of what a port answers a browser or a TLS client. */
import {execFileSync} from "node:child_process"
import {chmodSync} from "node:fs"
import {request as httpRequest} from "node:http"
import {request as httpsRequest} from "node:https"
import {join} from "node:path"

export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** One raw HTTP(S) request, so Host and Origin are exactly what a browser would put there. */
export function send(url: string, options: {method?: string; headers?: Record<string, string>; body?: string; ca?: Buffer}): Promise<Answer> {
  const target = new URL(url)
  const request = target.protocol === "https:" ? httpsRequest : httpRequest
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: options.method ?? "POST",
        headers: options.headers ?? {},
        ...(options.ca === undefined ? {} : {ca: options.ca}),
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => resolve({status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8")}))
      },
    )
    req.on("error", reject)
    req.end(options.body)
  })
}

/** A self-signed certificate for localhost and 127.0.0.1 made with openssl in `dir`; the key file is mode 600. */
export function selfSignedCertificate(dir: string, name: string): {cert: string; key: string} {
  const cert = join(dir, `${name}.crt`)
  const key = join(dir, `${name}.key`)
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost",
      "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert], {stdio: "pipe"})
  } catch (err) {
    throw new Error(`this test makes its certificate with openssl, which must be installed: ${(err as Error).message}`)
  }
  chmodSync(key, 0o600)
  return {cert, key}
}
