"""ChainClient and the dev chain, against a real chopsticks node (the session's dev_chain)."""

from __future__ import annotations

import asyncio
import ipaddress
import os
from pathlib import Path

import pytest

from billing.accounts import public_key, same_account, to_ss58
from billing.chain import ERA_PERIOD, ChainClient, ChainRejected, ChainTimeout
from billing.chain_types import ChainExpired, SignedExtrinsic
from tests.support.chain_fixtures import ROOT, dev_rpc, fresh_account
from vilokanam.devchain import (
    DEV_ACCOUNTS,
    ESCROW_URI,
    DevChain,
    DevChainError,
    dev_keypair,
    start_dev_chain,
)

ROC = 10**12


# -- helpers ------------------------------------------------------------------------------------


def inet_sockets(pid: int) -> list[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]]:
    """(local ip, remote ip) of every TCP/UDP socket the process holds, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            if fields[9] in inodes:
                found.append((_proc_ip(fields[1]), _proc_ip(fields[2])))
    return found


def _proc_ip(field: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    hexip = field.split(":")[0]
    # /proc prints each 32-bit word in host (little-endian) order
    raw = b"".join(bytes.fromhex(hexip[i : i + 8])[::-1] for i in range(0, len(hexip), 8))
    ip = ipaddress.ip_address(raw)
    return ip.ipv4_mapped or ip if isinstance(ip, ipaddress.IPv6Address) else ip


def era_of(xt_hex: str) -> tuple[int, int] | None:
    """(period, phase) of a signed sr25519 v4 extrinsic's era; None when immortal."""
    data = bytes.fromhex(xt_hex.removeprefix("0x"))
    prefix = {0: 1, 1: 2, 2: 4}[data[0] & 3]  # SCALE compact length
    assert data[prefix] == 0x84, "signed extrinsic, version 4"
    era_at = prefix + 1 + 33 + 65  # version, MultiAddress::Id, MultiSignature::Sr25519
    if data[era_at] == 0:
        return None
    encoded = int.from_bytes(data[era_at : era_at + 2], "little")
    period = 2 << (encoded % 16)
    return period, (encoded >> 4) * max(period >> 12, 1)


async def landed(client: ChainClient, xt: SignedExtrinsic) -> None:
    await client.submit(xt)
    inclusion = await client.wait_for_inclusion(xt)
    assert inclusion.success, inclusion.error


# -- dev chain ----------------------------------------------------------------------------------


async def test_chain_boots_offline_on_loopback(dev_chain: DevChain, chain_client: ChainClient):
    assert dev_chain.url.startswith("ws://127.0.0.1:")
    sockets = inet_sockets(dev_chain.process.pid)
    assert sockets, "the node listens on a socket"
    for local, remote in sockets:
        assert local.is_loopback, f"socket bound to {local}"
        assert remote.is_loopback or remote.is_unspecified, f"connection to {remote}"

    assert chain_client.ss58_format == 2
    assert (chain_client.token_symbol, chain_client.token_decimals) == ("ROC", 12)
    for uri in DEV_ACCOUNTS:
        balance = await chain_client.free_balance(dev_keypair(uri).ss58_address)
        assert balance > 1 * ROC, f"{uri} funded at genesis"


async def test_missing_node_modules_is_a_clear_error(tmp_path: Path):
    with pytest.raises(DevChainError, match="npm ci"):
        await start_dev_chain(tmp_path)


async def test_stop_ends_the_node_process_group(dev_chain: DevChain):
    other = await start_dev_chain(ROOT, var_dir=dev_chain.log_path.parent)
    assert other.url != dev_chain.url
    await other.stop()
    assert other.process.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(other.process.pid, 0)  # nothing of the group is left


# -- transfers ----------------------------------------------------------------------------------


async def test_signed_transfer_is_mortal_and_moves_the_exact_amount(chain_client: ChainClient):
    alice = dev_keypair("//Alice")
    bob_fresh = fresh_account()
    amount = 7 * ROC + 123

    xt = await chain_client.sign_transfer(alice, bob_fresh.ss58_address, amount)

    assert xt.era_period == ERA_PERIOD == 64
    assert era_of(xt.hex) == (64, xt.era_start % 64)
    assert not xt.expired_at(xt.era_start + 63) and xt.expired_at(xt.era_start + 64)
    await landed(chain_client, xt)
    assert await chain_client.free_balance(bob_fresh.ss58_address) == amount


async def test_back_to_back_transfers_get_consecutive_nonces(chain_client: ChainClient):
    charlie = dev_keypair("//Charlie")
    dest = fresh_account().ss58_address

    first, second = await asyncio.gather(
        chain_client.sign_transfer(charlie, dest, 2 * ROC),
        chain_client.sign_transfer(charlie, dest, 3 * ROC),
    )

    assert abs(first.nonce - second.nonce) == 1
    await chain_client.submit(first)
    await chain_client.submit(second)
    for xt in (first, second):
        assert (await chain_client.wait_for_inclusion(xt)).success
    assert await chain_client.free_balance(dest) == 5 * ROC


async def test_batch_all_lands_atomically(chain_client: ChainClient):
    dave = dev_keypair("//Dave")
    one, two = fresh_account().ss58_address, fresh_account().ss58_address
    ed = await chain_client.existential_deposit()

    fee = await chain_client.estimate_fee(dave, [(one, ROC), (two, 2 * ROC)])
    xt = await chain_client.sign_batch_transfer(dave, [(one, ROC), (two, 2 * ROC)])
    await chain_client.submit(xt)
    inclusion = await chain_client.wait_for_inclusion(xt)

    assert 0 < fee < ROC
    assert inclusion.success
    found = await chain_client.find_extrinsic(xt.hash, xt.era_start)
    assert (found.block_number, found.extrinsic_index) == (
        inclusion.block_number,
        inclusion.extrinsic_index,
    )
    assert found.block_hash == await chain_client.block_hash(found.block_number)
    assert await chain_client.free_balance(one) == ROC
    assert await chain_client.free_balance(two) == 2 * ROC

    # the second transfer cannot create its account (below the existential deposit): none lands
    three, four = fresh_account().ss58_address, fresh_account().ss58_address
    failing = await chain_client.sign_batch_transfer(dave, [(three, ROC), (four, ed - 1)])
    await chain_client.submit(failing)
    failed = await chain_client.wait_for_inclusion(failing)
    assert not failed.success and failed.error
    assert await chain_client.free_balance(three) == 0
    assert await chain_client.free_balance(four) == 0


async def test_deposit_to_escrow_shows_in_a_finalized_block(chain_client: ChainClient):
    eve = dev_keypair("//Eve")
    escrow_generic = dev_keypair(ESCROW_URI, ss58_format=42).ss58_address  # any prefix works
    amount = 11 * ROC + 5

    xt = await chain_client.sign_transfer(eve, escrow_generic, amount)
    await chain_client.submit(xt)
    inclusion = await chain_client.wait_for_inclusion(xt, finalized=True)
    finalized_number, _ = await chain_client.finalized_head()
    transfers = await chain_client.transfers_in_block(inclusion.block_hash, escrow_generic)

    assert inclusion.finalized and finalized_number >= inclusion.block_number
    assert [(t.amount, t.block_number) for t in transfers] == [(amount, inclusion.block_number)]
    assert transfers[0].from_address == to_ss58(eve.public_key, chain_client.ss58_format)
    assert same_account(transfers[0].to_address, escrow_generic)
    unrelated = await chain_client.transfers_in_block(
        inclusion.block_hash, fresh_account().ss58_address
    )
    assert unrelated == []


async def test_resubmitting_the_same_bytes_pays_once(chain_client: ChainClient):
    ferdie = dev_keypair("//Ferdie")
    dest = fresh_account().ss58_address
    xt = await chain_client.sign_transfer(ferdie, dest, 4 * ROC)

    await chain_client.submit(xt)
    await chain_client.submit(xt)  # still pending or just included: both harmless
    inclusion = await chain_client.wait_for_inclusion(xt)
    await chain_client.submit(xt)  # included: harmless too

    assert inclusion.success
    assert await chain_client.free_balance(dest) == 4 * ROC
    after = await chain_client.find_extrinsic(xt.hash, inclusion.block_number + 1)
    assert after is None, "the same bytes never land twice"
    next_xt = await chain_client.sign_transfer(ferdie, dest, ROC)
    assert next_xt.nonce == xt.nonce + 1


async def test_other_bytes_with_a_used_nonce_are_rejected_as_stale(chain_client: ChainClient):
    alice = dev_keypair("//Alice")
    dest = fresh_account().ss58_address
    used = await chain_client.sign_transfer(alice, dest, ROC)
    await landed(chain_client, used)

    rival = await chain_client.sign_transfer(alice, dest, 2 * ROC, nonce=used.nonce)
    with pytest.raises(ChainRejected) as rejected:
        await chain_client.submit(rival)

    assert rejected.value.kind == "stale"
    assert await chain_client.free_balance(dest) == ROC
    retry = await chain_client.sign_transfer(alice, dest, ROC)  # allocator resynced
    assert retry.nonce == used.nonce + 1


# -- timeouts and expiry ------------------------------------------------------------------------


async def test_unknown_extrinsic_times_out(chain_client: ChainClient):
    never_sent = await chain_client.sign_transfer(
        dev_keypair("//Bob"), fresh_account().ss58_address, ROC, nonce=10**6
    )
    with pytest.raises(ChainTimeout):
        await chain_client.wait_for_inclusion(never_sent, timeout=1.0)


async def test_expired_extrinsic_is_refused_and_reported_expired(
    dev_chain: DevChain, chain_client: ChainClient
):
    bob = dev_keypair("//Bob")
    dest = fresh_account().ss58_address
    short = await chain_client.sign_transfer(bob, dest, ROC, era_period=4)
    assert era_of(short.hex) == (4, short.era_start % 4)

    await dev_rpc(dev_chain, "dev_newBlock", [{"count": 4}])  # its era passes unused
    with pytest.raises(ChainRejected):
        await chain_client.submit(short)
    with pytest.raises(ChainExpired):
        await chain_client.wait_for_inclusion(short, timeout=60)
    assert await chain_client.free_balance(dest) == 0


# -- account helpers ----------------------------------------------------------------------------


def test_same_public_key_whatever_the_prefix():
    alice = dev_keypair("//Alice")
    addresses = [to_ss58(alice.public_key, prefix) for prefix in (42, 0, 2)]

    assert len(set(addresses)) == 3
    assert {public_key(address) for address in addresses} == {alice.public_key}
    assert to_ss58(addresses[1], 2) == addresses[2]
    assert to_ss58("0x" + alice.public_key.hex(), 42) == alice.ss58_address


@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "not an address",
        "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ",  # last character changed
        "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKut",  # truncated
        "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d",  # hex is not SS58
        "F7Hs",  # a valid 1-byte account index, not an account id
    ],
)
def test_malformed_address_raises_value_error(malformed: str):
    with pytest.raises(ValueError):
        public_key(malformed)
