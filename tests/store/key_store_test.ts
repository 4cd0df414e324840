import { assert, assertEquals, assertRejects } from "../assert.ts";
import { sanitizedTest as test, withTempDir } from "../support.ts";
import { argon2id } from "@noble/hashes/argon2.js";
import { join } from "node:path";
import { Account } from "../../src/chain/account.ts";
import {
  checkPassword,
  decryptKey,
  encryptKey,
  KeyStoreError,
  listKeys,
  readKey,
  writeKey,
} from "../../src/store/key_store.ts";

const PASSWORD = "correct horse";

test("writeKey then readKey round-trips the account", async () => {
  await withTempDir(async (tmp) => {
    const dir = join(tmp, "keys");
    const acc = Account.create();
    const path = await writeKey(dir, acc, PASSWORD);
    assertEquals(path, join(dir, acc.address));
    const back = await readKey(dir, acc.address, PASSWORD);
    assertEquals(back.address, acc.address);
    assertEquals(back.encodePrivateKey(), acc.encodePrivateKey());
    // Upper-case addresses are accepted too.
    const upper = await readKey(dir, acc.address.toUpperCase(), PASSWORD);
    assertEquals(upper.address, acc.address);
  });
});

test("key file layout: salt, nonce, ciphertext and tag", async () => {
  await withTempDir(async (dir) => {
    const acc = Account.create();
    const path = await writeKey(dir, acc, PASSWORD);
    const data = await Deno.readFile(path);
    const plainLen = new TextEncoder().encode(acc.encodePrivateKey()).length;
    assertEquals(data.length, 32 + 12 + plainLen + 16);
    // Two writes of the same key use fresh salt and nonce.
    const again = await encryptKey(acc, PASSWORD);
    assert(!data.subarray(0, 44).every((b, i) => b === again[i]));
  });
});

test("key file mode is 0600 and a new directory 0700", {
  ignore: Deno.build.os === "windows",
}, async () => {
  await withTempDir(async (tmp) => {
    const dir = join(tmp, "a", "keys");
    const path = await writeKey(dir, Account.create(), PASSWORD);
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
    assertEquals((await Deno.stat(dir)).mode! & 0o777, 0o700);
    // No temporary file is left behind.
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assertEquals(names.length, 1);
  });
});

test("wrong password: exact error message", async () => {
  await withTempDir(async (dir) => {
    const acc = Account.create();
    const path = await writeKey(dir, acc, PASSWORD);
    const e = await assertRejects(
      () => readKey(dir, acc.address, "wrong password"),
      KeyStoreError,
    );
    assertEquals(
      e.message,
      `cannot decrypt key file ${path}: wrong password or corrupted file`,
    );
  });
});

test("damaged or truncated key file is reported", async () => {
  await withTempDir(async (dir) => {
    const acc = Account.create();
    const path = await writeKey(dir, acc, PASSWORD);
    const data = await Deno.readFile(path);
    const msg = `cannot decrypt key file ${path}: wrong password or ` +
      "corrupted file";
    for (
      const bad of [
        data.subarray(0, data.length - 1), // truncated tag
        data.subarray(0, 40), // shorter than salt + nonce + tag
        new Uint8Array(0),
        (() => {
          const d = data.slice();
          d[50] ^= 1; // a flipped ciphertext bit
          return d;
        })(),
        (() => {
          const d = data.slice();
          d[3] ^= 1; // a flipped salt bit
          return d;
        })(),
      ]
    ) {
      await Deno.writeFile(path, bad);
      const e = await assertRejects(
        () => readKey(dir, acc.address, PASSWORD),
        KeyStoreError,
      );
      assertEquals(e.message, msg);
    }
  });
});

Deno.test("checkPassword counts UTF-8 bytes and names the password", () => {
  checkPassword("éé1"); // 5 bytes in 3 characters
  for (const pw of ["", "abcd", "é12"]) {
    try {
      checkPassword(pw, "owner password");
      assert(false, `accepted ${JSON.stringify(pw)}`);
    } catch (e) {
      assert(e instanceof KeyStoreError);
      assertEquals(e.kind, "short-password");
      assertEquals(e.message, "owner password must be at least 5 bytes");
    }
  }
});

test("short passwords are refused", async () => {
  await withTempDir(async (dir) => {
    const acc = Account.create();
    for (const pw of ["", "abcd", "é12"]) { // "é12" is 4 bytes
      await assertRejects(
        () => writeKey(dir, acc, pw),
        KeyStoreError,
        "password must be at least 5 bytes",
      );
    }
    assertEquals(await listKeys(dir), []);
    // Five bytes are enough, even as fewer characters.
    await writeKey(dir, acc, "éé1");
    await readKey(dir, acc.address, "éé1");
  });
});

test("missing key: one clear line", async () => {
  await withTempDir(async (dir) => {
    const addr = Account.create().address;
    await assertRejects(
      () => readKey(dir, addr, PASSWORD),
      KeyStoreError,
      `no key for account ${addr} in ${dir}`,
    );
    await assertRejects(
      () => readKey(join(dir, "none"), addr, PASSWORD),
      KeyStoreError,
      `no key for account ${addr} in ${join(dir, "none")}`,
    );
    await assertRejects(
      () => readKey(dir, "../etc/passwd", PASSWORD),
      KeyStoreError,
      "invalid account address",
    );
  });
});

test("a key file of another account is refused", async () => {
  await withTempDir(async (dir) => {
    const a = Account.create();
    const b = Account.create();
    const path = await writeKey(dir, a, PASSWORD);
    await Deno.rename(path, join(dir, b.address));
    await assertRejects(
      () => readKey(dir, b.address, PASSWORD),
      KeyStoreError,
      `holds the key of account ${a.address}`,
    );
  });
});

test("a key file made by hand in FORMAT's layout reads back", async () => {
  await withTempDir(async (dir) => {
    const acc = Account.create();
    const salt = crypto.getRandomValues(new Uint8Array(32));
    const nonce = crypto.getRandomValues(new Uint8Array(12));
    const raw = argon2id(new TextEncoder().encode(PASSWORD), salt, {
      t: 1,
      m: 256,
      p: 1,
      dkLen: 32,
      version: 0x13,
    });
    const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, [
      "encrypt",
    ]);
    const { x, y } = acc.publicKey;
    const d = /"d":(\d+)/.exec(acc.encodePrivateKey())![1];
    const plain = new TextEncoder().encode(
      // Fields in another order than bcn writes them: any order is read.
      `{"d":${d},"curve":"P-256k1","x":${x},"y":${y}}`,
    );
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce }, key, plain),
    );
    const file = new Uint8Array([...salt, ...nonce, ...sealed]);
    await Deno.writeFile(join(dir, acc.address), file, { mode: 0o600 });
    const back = await readKey(dir, acc.address, PASSWORD);
    assertEquals(back.encodePrivateKey(), acc.encodePrivateKey());
    // And decryptKey on bytes agrees.
    assertEquals((await decryptKey(file, PASSWORD)).address, acc.address);
  });
});

test("bcn key files decrypt with an independent derivation", async () => {
  const acc = Account.create();
  const data = await encryptKey(acc, PASSWORD);
  const raw = argon2id(new TextEncoder().encode(PASSWORD), data.slice(0, 32), {
    t: 1,
    m: 256,
    p: 1,
    dkLen: 32,
  });
  const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, [
    "decrypt",
  ]);
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: data.slice(32, 44), tagLength: 128 },
    key,
    data.slice(44),
  );
  assertEquals(new TextDecoder().decode(plain), acc.encodePrivateKey());
});

test("listKeys lists key files only", async () => {
  await withTempDir(async (dir) => {
    assertEquals(await listKeys(join(dir, "missing")), []);
    const a = Account.create();
    const b = Account.create();
    await writeKey(dir, a, PASSWORD);
    await writeKey(dir, b, PASSWORD);
    await Deno.writeTextFile(join(dir, "notes.txt"), "x");
    await Deno.writeTextFile(join(dir, a.address.toUpperCase()), "x");
    await Deno.mkdir(join(dir, "0".repeat(64)));
    assertEquals(await listKeys(dir), [a.address, b.address].sort());
  });
});

test("errors for a node's clients name no path", async () => {
  await withTempDir(async (dir) => {
    const a = Account.create();
    const b = Account.create();
    const path = await writeKey(dir, a, PASSWORD);
    const wrong = await assertRejects(
      () => readKey(dir, a.address, "wrong password"),
      KeyStoreError,
    ) as KeyStoreError;
    assertEquals(
      wrong.publicMessage,
      `cannot decrypt the key file of account ${a.address}: wrong password or corrupted file`,
    );
    const missing = await assertRejects(
      () => readKey(dir, b.address, PASSWORD),
      KeyStoreError,
    ) as KeyStoreError;
    assertEquals(
      missing.publicMessage,
      `no key for account ${b.address} in the key store`,
    );
    await Deno.rename(path, join(dir, b.address));
    const other = await assertRejects(
      () => readKey(dir, b.address, PASSWORD),
      KeyStoreError,
    ) as KeyStoreError;
    assertEquals(
      other.publicMessage,
      `the key file of account ${b.address} holds the key of account ${a.address}`,
    );
    for (const e of [wrong, missing, other]) {
      assert(e.message.includes(dir), e.message);
      assert(!e.publicMessage.includes(dir), e.publicMessage);
    }
    const short = new KeyStoreError("short-password", "too short");
    assertEquals(short.publicMessage, "too short");
  });
});
