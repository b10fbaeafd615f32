using System.Text;
using Xunit.Abstractions;
using P2PSwarm.Node.Tests.Identity;

namespace P2PSwarm.Node.Tests.Fuzz;

/// <summary>
/// Runs every codec fuzz target over spec vectors and a few thousand mutants. Set P2PSWARM_FUZZ_ITERATIONS to
/// fuzz longer and P2PSWARM_FUZZ_SEED to explore other mutants; a failure prints the input in hex so it can be
/// pinned as a regression test.
/// </summary>
public class CodecFuzzTests(ITestOutputHelper output)
{
    private static readonly int Iterations =
        int.TryParse(Environment.GetEnvironmentVariable("P2PSWARM_FUZZ_ITERATIONS"), out var configured) ? configured : 3000;

    private static readonly int Seed =
        int.TryParse(Environment.GetEnvironmentVariable("P2PSWARM_FUZZ_SEED"), out var configured) ? configured : 1;

    private static readonly byte[] PeerIdBytes = Convert.FromHexString(PeerIdTests.PeerIdHex);
    private static readonly byte[] PublicKeyBytes = Convert.FromHexString(PeerIdTests.PublicKeyHex);
    private static readonly byte[] PrivateKeyBytes = Convert.FromHexString(IdentityKeyTests.PrivateKeyHex);

    public static TheoryData<string> Targets => new(TargetTable.Keys);

    private static readonly Dictionary<string, (MutationFuzzer.Target Target, byte[][] Seeds)> TargetTable = new()
    {
        ["varint"] = (VarintFuzzTarget.Fuzz, [[0x01], [0x7f], [0x80, 0x01], [0xac, 0x02], [0x80, 0x80, 0x01], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]]),
        ["base58"] = (Base58FuzzTarget.Fuzz, [Ascii(PeerIdTests.PeerIdBase58), Ascii("117paNL19xttacUY")]),
        ["base32"] = (Base32FuzzTarget.Fuzz, [Ascii(PeerIdTests.PeerIdCid[1..]), Ascii("mzxw6ytboi")]),
        ["multibase"] = (MultibaseFuzzTarget.Fuzz, [Ascii(PeerIdTests.PeerIdCid), Ascii("z" + PeerIdTests.PeerIdBase58), Ascii("f0172")]),
        ["multihash"] = (MultihashFuzzTarget.Fuzz, [PeerIdBytes, Convert.FromHexString("1220b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9")]),
        ["cid"] = (CidFuzzTarget.Fuzz, [[0x01, 0x72, .. PeerIdBytes], Convert.FromHexString("1220b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9")]),
        ["cid-text"] = (CidTextFuzzTarget.Fuzz, [Ascii(PeerIdTests.PeerIdCid), Ascii("QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"), Ascii("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e")]),
        ["multiaddr"] = (MultiaddressFuzzTarget.Fuzz,
        [
            Convert.FromHexString("047f000001060fa1a50326" + PeerIdTests.PeerIdHex),
            Convert.FromHexString("2900000000000000000000000000000001910214e9"),
            Convert.FromHexString("360b6578616d706c652e636f6d0601bb"),
            Convert.FromHexString("2a0465746830290000000000000000000000000000000106000add03a202cd03"),
        ]),
        ["multiaddr-text"] = (MultiaddressTextFuzzTarget.Fuzz,
        [
            Ascii("/ip4/127.0.0.1/tcp/4001/p2p/" + PeerIdTests.PeerIdBase58),
            Ascii("/ip6zone/eth0/ip6/fe80::1/udp/5353/quic-v1"),
            Ascii("/dns4/example.com/tcp/443/ws/p2p-circuit/ipfs/" + PeerIdTests.PeerIdCid),
            Ascii("/ip6/::ffff:1.2.3.4/tcp/1"),
        ]),
        ["peer-id"] = (PeerIdFuzzTarget.Fuzz, [PeerIdBytes, Convert.FromHexString("1220b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9")]),
        ["peer-id-text"] = (PeerIdTextFuzzTarget.Fuzz, [Ascii(PeerIdTests.PeerIdBase58), Ascii(PeerIdTests.PeerIdCid)]),
        ["public-key"] = (PublicKeyFuzzTarget.Fuzz, [PublicKeyBytes, Convert.FromHexString("08001203010203")]),
        ["private-key"] = (PrivateKeyFuzzTarget.Fuzz, [PrivateKeyBytes, [0x08, 0x01, 0x12, 0x60, .. PrivateKeyBytes.AsSpan(4), .. PrivateKeyBytes.AsSpan(36)]]),
    };

    [Theory]
    [MemberData(nameof(Targets))]
    public void Only_format_exceptions_escape(string name)
    {
        var (target, seeds) = TargetTable[name];

        var report = MutationFuzzer.Run(target, seeds, Iterations, randomSeed: Seed + name.Sum(c => c));
        var failures = report.Failures;
        output.WriteLine($"{name}: {report.Accepted} accepted, {report.Rejected} rejected, {failures.Count} failures");

        // The invariant checks only run on accepted input; the seeds alone guarantee some.
        Assert.True(report.Accepted >= seeds.Length, $"{name}: only {report.Accepted} inputs were accepted");
        Assert.True(
            failures.Count == 0,
            $"{failures.Count} inputs broke the {name} decoder (seed {Seed}), e.g.:\n" + string.Join(
                "\n",
                failures.Take(5).Select(f => $"{Convert.ToHexStringLower(f.Input)}: {f.Error.GetType().Name}: {f.Error.Message}")));
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Spec_vector_seeds_are_accepted(string name)
    {
        var (target, seeds) = TargetTable[name];

        foreach (var seed in seeds)
        {
            target(seed);
        }
    }

    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);
}
