using P2PSwarm.Node.Security;

namespace P2PSwarm.Node.Tests.Security;

/// <summary>
/// The Noise_XX_25519_ChaChaPoly_SHA256 entry of the cacophony test vectors (the suite Noise implementations
/// check each other against): fixed keys, prologue "John Galt", three handshake and three transport messages.
/// Our two sides agreeing with each other proves nothing; agreeing with this proves the key schedule.
/// </summary>
public sealed class NoiseXXKnownAnswerTests
{
    private const string Prologue = "4a6f686e2047616c74";
    private const string InitiatorStatic = "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1";
    private const string InitiatorEphemeral = "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a";
    private const string ResponderStatic = "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893";
    private const string ResponderEphemeral = "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b";
    private const string HandshakeHash = "c8e5f64e846193be2a834104c2a009868d6c9f3bd3c186299888b488b2f1f58e";

    private static readonly (string Payload, string Ciphertext)[] Messages =
    [
        ("4c756477696720766f6e204d69736573",
            "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d69736573"),
        ("4d757272617920526f746862617264",
            "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f14480884381cbad1f276e038c48378ffce2b65285e08d6b68aaa3629a5a8639392490e5b9bd5269c2f1e4f488ed8831161f19b7815528f8982ffe09be9b5c412f8a0db50f8814c7194e83f23dbd8d162c9326ad"),
        ("462e20412e20486179656b",
            "c7195ffacac1307ff99046f219750fc47693e23c3cb08b89c2af808b444850a80ae475b9df0f169ae80a89be0865b57f58c9fea0d4ec82a286427402f113e4b6ae769a1d95941d49b25030"),
        ("4361726c204d656e676572", "96763ed773f8e47bb3712f0e29b3060ffc956ffc146cee53d5e1df"),
        ("4a65616e2d426170746973746520536179", "3e40f15f6f3a46ae446b253bf8b1d9ffb6ed9b174d272328ff91a7e2e5c79c07f5"),
        ("457567656e2042f6686d20766f6e2042617765726b", "eb3f3515110702e047a6c9da4478b6ead94873c11c0f2d710ddb3f09fce024b3a58502ae3f"),
    ];

    [Fact]
    public void Handshake_and_transport_messages_match_the_cacophony_vector()
    {
        var prologue = Convert.FromHexString(Prologue);
        using var initiatorStatic = NoiseDh.Import(Convert.FromHexString(InitiatorStatic));
        using var responderStatic = NoiseDh.Import(Convert.FromHexString(ResponderStatic));
        using var initiator = new NoiseXXHandshakeState(true, prologue, initiatorStatic, NoiseDh.Import(Convert.FromHexString(InitiatorEphemeral)));
        using var responder = new NoiseXXHandshakeState(false, prologue, responderStatic, NoiseDh.Import(Convert.FromHexString(ResponderEphemeral)));

        var message1 = initiator.WriteMessageA(Payload(0));
        AssertHex(Messages[0].Ciphertext, message1);
        Assert.Equal(Payload(0), responder.ReadMessageA(message1));

        var message2 = responder.WriteMessageB(Payload(1));
        AssertHex(Messages[1].Ciphertext, message2);
        Assert.Equal(Payload(1), initiator.ReadMessageB(message2));

        var message3 = initiator.WriteMessageC(Payload(2));
        AssertHex(Messages[2].Ciphertext, message3);
        Assert.Equal(Payload(2), responder.ReadMessageC(message3));

        AssertHex(HandshakeHash, initiator.HandshakeHash.ToArray());
        AssertHex(HandshakeHash, responder.HandshakeHash.ToArray());
        Assert.Equal(NoiseDh.PublicKeyBytes(responderStatic), initiator.RemoteStaticPublicKey.ToArray());
        Assert.Equal(NoiseDh.PublicKeyBytes(initiatorStatic), responder.RemoteStaticPublicKey.ToArray());

        var (initiatorSend, initiatorReceive) = initiator.Split();
        var (responderSend, responderReceive) = responder.Split();
        using (initiatorSend)
        using (initiatorReceive)
        using (responderSend)
        using (responderReceive)
        {
            // The transport continues the alternation: message 4 is the responder's.
            for (var i = 3; i < Messages.Length; i++)
            {
                var fromInitiator = i % 2 == 0;
                var (sender, receiver) = fromInitiator ? (initiatorSend, responderReceive) : (responderSend, initiatorReceive);
                var payload = Payload(i);
                var ciphertext = new byte[payload.Length + 16];
                sender.EncryptWithAd([], payload, ciphertext);
                AssertHex(Messages[i].Ciphertext, ciphertext);

                var plaintext = new byte[payload.Length];
                Assert.True(receiver.TryDecryptWithAd([], ciphertext, plaintext));
                Assert.Equal(payload, plaintext);
            }
        }
    }

    [Fact]
    public void A_tampered_message_2_fails_with_decrypt_failed()
    {
        using var initiatorStatic = NoiseDh.Generate();
        using var responderStatic = NoiseDh.Generate();
        using var initiator = new NoiseXXHandshakeState(true, [], initiatorStatic);
        using var responder = new NoiseXXHandshakeState(false, [], responderStatic);
        responder.ReadMessageA(initiator.WriteMessageA([]));
        var message2 = responder.WriteMessageB("payload"u8);
        message2[40] ^= 0x80;

        var error = Assert.Throws<NoiseHandshakeException>(() => initiator.ReadMessageB(message2));
        Assert.Equal(NoiseFailure.DecryptFailed, error.Failure);
    }

    [Fact]
    public void A_short_message_2_fails_with_malformed_message()
    {
        using var initiatorStatic = NoiseDh.Generate();
        using var initiator = new NoiseXXHandshakeState(true, [], initiatorStatic);
        initiator.WriteMessageA([]);

        var error = Assert.Throws<NoiseHandshakeException>(() => initiator.ReadMessageB(new byte[95]));
        Assert.Equal(NoiseFailure.MalformedMessage, error.Failure);
    }

    [Fact]
    public void A_low_order_remote_ephemeral_fails_with_invalid_key()
    {
        using var initiatorStatic = NoiseDh.Generate();
        using var initiator = new NoiseXXHandshakeState(true, [], initiatorStatic);
        initiator.WriteMessageA([]);
        var message2 = new byte[96]; // e = the all-zero point, whose DH output is all zeros

        var error = Assert.Throws<NoiseHandshakeException>(() => initiator.ReadMessageB(message2));
        Assert.Equal(NoiseFailure.InvalidKey, error.Failure);
    }

    [Fact]
    public void Messages_out_of_order_are_refused()
    {
        using var key = NoiseDh.Generate();
        using var responder = new NoiseXXHandshakeState(false, [], key);
        Assert.Throws<InvalidOperationException>(() => responder.WriteMessageA([]));
        Assert.Throws<InvalidOperationException>(() => responder.WriteMessageB([]));
    }

    private static byte[] Payload(int index) => Convert.FromHexString(Messages[index].Payload);

    private static void AssertHex(string expected, byte[] actual) => Assert.Equal(expected, Convert.ToHexStringLower(actual));
}
