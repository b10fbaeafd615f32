using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace P2PSwarm.Node.Transport;

/// <summary>Turns a wildcard listen endpoint (0.0.0.0, ::) into the concrete addresses peers can dial.</summary>
public static class InterfaceAddresses
{
    /// <summary>
    /// The dialable endpoints for a bound endpoint: itself when it is concrete, otherwise one per unicast
    /// address of that family on every interface that is up, loopback included. IPv6 link-local addresses
    /// are left out because they need a scope id that a multiaddr cannot carry.
    /// </summary>
    public static IReadOnlyList<IPEndPoint> Expand(IPEndPoint bound)
    {
        ArgumentNullException.ThrowIfNull(bound);
        if (!bound.Address.Equals(IPAddress.Any) && !bound.Address.Equals(IPAddress.IPv6Any))
        {
            return [bound];
        }

        var result = new List<IPEndPoint>();
        foreach (var address in UnicastAddresses(bound.AddressFamily))
        {
            result.Add(new IPEndPoint(address, bound.Port));
        }

        if (result.Count == 0)
        {
            // No interface information (restricted container): loopback is always there.
            result.Add(new IPEndPoint(bound.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Loopback : IPAddress.IPv6Loopback, bound.Port));
        }

        return result;
    }

    private static IEnumerable<IPAddress> UnicastAddresses(AddressFamily family)
    {
        NetworkInterface[] interfaces;
        try
        {
            interfaces = NetworkInterface.GetAllNetworkInterfaces();
        }
        catch (NetworkInformationException)
        {
            yield break;
        }

        var seen = new HashSet<IPAddress>();
        foreach (var networkInterface in interfaces)
        {
            if (networkInterface.OperationalStatus is not (OperationalStatus.Up or OperationalStatus.Unknown))
            {
                continue;
            }

            foreach (var unicast in networkInterface.GetIPProperties().UnicastAddresses)
            {
                var address = unicast.Address;
                if (address.AddressFamily != family || address.IsIPv6LinkLocal || !seen.Add(address))
                {
                    continue;
                }

                yield return address;
            }
        }
    }
}
