/**
 * Hosts as Linux network namespaces for the fault suite. One namespace holds a bridge; every host
 * namespace is wired to it with a veth pair and gets 10.77.0.(16+i)/24; the suite's own namespace
 * (the one `unshare --net` gave it) joins the bridge as 10.77.0.2, the "client network" that drives
 * RPC load and never has a fault applied. Faults are iptables rules in each host's own FAULTS
 * chain (partitions, one-way loss, random loss) and veth links set down (flapping). Everything is
 * created inside the suite's private network and mount namespaces, under names unique to the run,
 * and `destroy()` deletes it; leaving the unshare'd namespaces removes whatever is left.
 */
import {execFile} from "node:child_process"
import {promisify} from "node:util"

const exec = promisify(execFile)

export const SUBNET_PREFIX = "10.77.0"
/** Host i is 10.77.0.(16+i): the hosts are exactly 10.77.0.16/29, so "from a peer" is one match. */
export const HOSTS_CIDR = `${SUBNET_PREFIX}.16/29`
export const CLIENT_ADDRESS = `${SUBNET_PREFIX}.2`
export const MAX_HOSTS = 8

export async function sh(command: string, args: string[]): Promise<string> {
  try {
    const {stdout} = await exec(command, args, {maxBuffer: 16 * 1024 * 1024})
    return stdout
  } catch (err) {
    const e = err as Error & {stderr?: string}
    throw new Error(`${command} ${args.join(" ")} failed: ${e.stderr?.trim() || e.message}`)
  }
}

export class HostNetwork {
  readonly bridgeNs: string
  readonly hosts: string[]
  private clientLink = false

  constructor(
    readonly runId: string,
    size: number,
  ) {
    if (size > MAX_HOSTS) throw new Error(`at most ${MAX_HOSTS} hosts`)
    this.bridgeNs = `clf${runId}-br`
    this.hosts = Array.from({length: size}, (_, i) => `clf${runId}-h${i}`)
  }

  address(i: number): string {
    return `${SUBNET_PREFIX}.${16 + i}`
  }

  /** Runs `ip netns exec <host i> command...` argv (for spawning processes inside a host). */
  execArgs(i: number, argv: string[]): string[] {
    return ["netns", "exec", this.hosts[i]!, ...argv]
  }

  private inHost(i: number, command: string, args: string[]): Promise<string> {
    return sh("ip", ["netns", "exec", this.hosts[i]!, command, ...args])
  }

  async create(): Promise<void> {
    await sh("ip", ["netns", "add", this.bridgeNs])
    await sh("ip", ["-n", this.bridgeNs, "link", "set", "lo", "up"])
    await sh("ip", ["-n", this.bridgeNs, "link", "add", "br0", "type", "bridge"])
    await sh("ip", ["-n", this.bridgeNs, "link", "set", "br0", "up"])
    for (let i = 0; i < this.hosts.length; i++) {
      const ns = this.hosts[i]!
      await sh("ip", ["netns", "add", ns])
      await sh("ip", ["-n", ns, "link", "set", "lo", "up"])
      await sh("ip", ["-n", this.bridgeNs, "link", "add", `v${i}`, "type", "veth", "peer", "name", "eth0", "netns", ns])
      await sh("ip", ["-n", this.bridgeNs, "link", "set", `v${i}`, "master", "br0", "up"])
      await sh("ip", ["-n", ns, "addr", "add", `${this.address(i)}/24`, "dev", "eth0"])
      await sh("ip", ["-n", ns, "link", "set", "eth0", "up"])
      await this.inHost(i, "iptables", ["-N", "FAULTS"])
      await this.inHost(i, "iptables", ["-A", "INPUT", "-j", "FAULTS"])
    }
    // The suite's own namespace joins the bridge as the client network.
    await sh("ip", ["link", "add", "clf-client", "type", "veth", "peer", "name", "vc", "netns", this.bridgeNs])
    this.clientLink = true
    await sh("ip", ["-n", this.bridgeNs, "link", "set", "vc", "master", "br0", "up"])
    await sh("ip", ["addr", "add", `${CLIENT_ADDRESS}/24`, "dev", "clf-client"])
    await sh("ip", ["link", "set", "clf-client", "up"])
    await sh("ip", ["link", "set", "lo", "up"])
  }

  async destroy(): Promise<void> {
    if (this.clientLink) await sh("ip", ["link", "del", "clf-client"]).catch(() => undefined)
    this.clientLink = false
    for (const ns of [...this.hosts, this.bridgeNs]) await sh("ip", ["netns", "del", ns]).catch(() => undefined)
  }

  /** Packets from host `from` no longer reach host `to` (the other direction is untouched). */
  async dropFrom(from: number, to: number): Promise<void> {
    await this.inHost(to, "iptables", ["-A", "FAULTS", "-s", this.address(from), "-j", "DROP"])
  }

  /** Both directions between every host of `a` and every host of `b` are cut. */
  async partition(a: number[], b: number[]): Promise<void> {
    for (const x of a) {
      for (const y of b) {
        await this.dropFrom(x, y)
        await this.dropFrom(y, x)
      }
    }
  }

  /** Every host drops each packet from any other host with probability `p` (inbound, so each direction is hit once). */
  async randomLoss(p: number): Promise<void> {
    for (let i = 0; i < this.hosts.length; i++) {
      await this.inHost(i, "iptables", ["-A", "FAULTS", "-s", HOSTS_CIDR, "-m", "statistic", "--mode", "random", "--probability", String(p), "-j", "DROP"])
    }
  }

  /** Sets host i's cable on the bridge down or up (a flapping link). */
  async link(i: number, up: boolean): Promise<void> {
    await sh("ip", ["-n", this.bridgeNs, "link", "set", `v${i}`, up ? "up" : "down"])
  }

  /** Removes every fault: all FAULTS rules, every link up. */
  async heal(): Promise<void> {
    for (let i = 0; i < this.hosts.length; i++) {
      await this.inHost(i, "iptables", ["-F", "FAULTS"])
      await this.link(i, true)
    }
  }
}
