// The committed guest images must be exactly what nasm builds from their sources.
// Needs nasm; skipped (with a message) where nasm is absent. CI installs nasm.

import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { GUESTS, buildGuest, nasmAvailable, repoRoot } from "../guests/build.js";

describe("guest images", function () {
  this.timeout(60_000);
  let tmp = "";

  before(function () {
    if (!nasmAvailable()) {
      console.log("    (skipped: nasm is not installed — `nasm -v` failed; install nasm to check the guest images)");
      this.skip();
    }
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "wasmvisor-guests-"));
  });

  after(function () {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  for (const guest of GUESTS) {
    it(`${guest.image} matches a fresh build of ${guest.source}`, function () {
      const committedPath = path.join(repoRoot(), guest.image);
      expect(fs.existsSync(committedPath), `${guest.image} is missing: build it with npm run guests`).to.equal(true);
      const fresh = fs.readFileSync(buildGuest(guest.name, path.join(tmp, guest.name)));
      const committed = fs.readFileSync(committedPath);
      if (!fresh.equals(committed)) {
        expect.fail(`${guest.image} is stale: rebuild with npm run guests`);
      }
    });
  }
});

describe("guest expected output", function () {
  for (const guest of GUESTS) {
    it(`guests/${guest.name}/expected.txt exists and ends with a CRLF line`, function () {
      const p = path.join(repoRoot(), "guests", guest.name, "expected.txt");
      expect(fs.existsSync(p), `guests/${guest.name}/expected.txt is missing`).to.equal(true);
      const text = fs.readFileSync(p, "latin1");
      expect(text.endsWith("\r\n"), `guests/${guest.name}/expected.txt must keep the guest's CRLF line ends`).to.equal(true);
    });
  }
});
