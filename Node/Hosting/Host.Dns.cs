using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Hosting;

/// <summary>The host's side of <c>/dns</c>, <c>/dns4</c> and <c>/dns6</c> addresses: resolve, then dial the first answer.</summary>
public sealed partial class Host
{
    /// <summary>
    /// Resolves <c>/dns|dns4|dns6/NAME/tcp/PORT[/p2p/ID]</c> to one endpoint. <c>/dns4</c> takes only IPv4 answers,
    /// <c>/dns6</c> only IPv6, <c>/dns</c> either (IPv4 first, as most listeners are). Other shapes are not DNS
    /// addresses and give a <c>null</c> endpoint with no error.
    /// </summary>
    internal static async Task<(IPEndPoint? EndPoint, string? Error)> ResolveDnsAsync(Multiaddress address, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var components = address.Components;
        if (components.Count is < 2 or > 3 || components[0].Code is not (MultiaddressCodes.Dns or MultiaddressCodes.Dns4 or MultiaddressCodes.Dns6)
            || components[1].Code != MultiaddressCodes.Tcp || (components.Count == 3 && components[2].Code != MultiaddressCodes.P2p))
        {
            return (null, null);
        }

        var name = components[0].ValueText;
        var port = BinaryPrimitives.ReadUInt16BigEndian(components[1].Value.Span);
        IPAddress[] answers;
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            deadline.CancelAfter(timeout);
            try
            {
                answers = await Dns.GetHostAddressesAsync(name, deadline.Token);
            }
            catch (SocketException exception)
            {
                return (null, $"cannot resolve {name}: {exception.SocketErrorCode}");
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return (null, $"resolving {name} took longer than {timeout.TotalSeconds:0.#} s");
            }
        }

        var wanted = components[0].Code switch
        {
            MultiaddressCodes.Dns4 => answers.Where(a => a.AddressFamily == AddressFamily.InterNetwork),
            MultiaddressCodes.Dns6 => answers.Where(a => a.AddressFamily == AddressFamily.InterNetworkV6),
            _ => answers.OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1),
        };
        var chosen = wanted.FirstOrDefault();
        return chosen is null
            ? (null, $"{name} has no {components[0].Name switch { "dns4" => "IPv4 ", "dns6" => "IPv6 ", _ => string.Empty }}address")
            : (new IPEndPoint(chosen, port), null);
    }
}
