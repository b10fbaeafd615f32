using System.Net.Sockets;
using P2PSwarm.Node.Storage;

namespace P2PSwarm.Node.Identity;

/// <summary>
/// One running node per peer id on this machine. Two nodes started from copies of one key file would both announce
/// the same peer id (peers and the DHT cannot tell them apart); the second one's claim fails instead.
/// <para>
/// On Linux the claim is a Unix socket bound to an abstract name derived from the peer id: no file anywhere, every user
/// sees it, and the kernel drops it however the process ends. It is per network namespace, as addresses are (a
/// container, or a test's namespace, is another machine to its peers). Elsewhere it is an exclusive lock file in the
/// user's temporary folder.
/// </para>
/// </summary>
public sealed class PeerIdClaim : IDisposable
{
    private readonly IDisposable _held;

    private PeerIdClaim(IDisposable held) => _held = held;

    /// <summary>Claims <paramref name="peer"/> for this process until <see cref="Dispose"/> (or the process's end).</summary>
    /// <returns>The claim; null when another process holds it.</returns>
    /// <exception cref="SocketException">Linux: no Unix socket could be made or bound for another reason.</exception>
    /// <exception cref="IOException">Elsewhere: the lock file cannot be created.</exception>
    /// <exception cref="UnauthorizedAccessException">Elsewhere: the lock file cannot be created.</exception>
    public static PeerIdClaim? TryClaim(PeerId peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        if (OperatingSystem.IsLinux())
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                // A leading NUL makes the name abstract (unix(7)); 15 + 52 characters, within the 107 allowed.
                socket.Bind(new UnixDomainSocketEndPoint("\0p2pswarm/peer/" + peer));
                return new PeerIdClaim(socket);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                socket.Dispose();
                return null;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        var file = ExclusiveFileLock.TryAcquire(Path.Combine(Path.GetTempPath(), $"p2pswarm-peer-{peer}.lock"));
        return file is null ? null : new PeerIdClaim(file);
    }

    /// <summary>Gives the peer id up: another process may claim it from now on.</summary>
    public void Dispose() => _held.Dispose();
}
