// Reference results from OpenZeppelin's own @openzeppelin/merkle-tree for a batch of cases.
// stdin: [{"types": [...], "values": [[...], ...]}, ...]
// stdout: [{"root": "0x…", "proofs": [["0x…", …], …], "dump": {…}}, ...]
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const cases = JSON.parse(input);
  const results = cases.map(({ types, values }) => {
    const tree = StandardMerkleTree.of(values, types);
    return {
      root: tree.root,
      proofs: values.map((_, i) => tree.getProof(i)),
      dump: tree.dump(),
    };
  });
  process.stdout.write(JSON.stringify(results));
});
