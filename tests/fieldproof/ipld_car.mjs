// Reads CARv1 files with the IPLD project's own @ipld/car and multiformats.
// argv: CAR file paths. stdout: [{"version", "roots": ["b…"], "blocks": [{"cid", "rehashed", "bytes"}]}]
// "rehashed" is the CID recomputed from the block's bytes (same version and codec, sha2-256).
import { readFile } from "node:fs/promises";
import { CarReader } from "@ipld/car";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { base64 } from "multiformats/bases/base64";

const results = [];
for (const path of process.argv.slice(2)) {
  const reader = await CarReader.fromBytes(await readFile(path));
  const blocks = [];
  for await (const { cid, bytes } of reader.blocks()) {
    const digest = await sha256.digest(bytes);
    const rehashed = CID.create(cid.version, cid.code, digest);
    blocks.push({
      cid: cid.toString(),
      hash: cid.multihash.code,
      rehashed: rehashed.toString(),
      bytes: base64.baseEncode(bytes),
    });
  }
  results.push({
    version: reader.version,
    roots: (await reader.getRoots()).map((root) => root.toString()),
    blocks,
  });
}
process.stdout.write(JSON.stringify(results));
