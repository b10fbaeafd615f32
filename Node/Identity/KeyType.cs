namespace P2PSwarm.Node.Identity;

/// <summary>The libp2p key types, with their protobuf enum values.</summary>
public enum KeyType
{
    Rsa = 0,
    Ed25519 = 1,
    Secp256k1 = 2,
    Ecdsa = 3,
}
