using System.CommandLine;
using System.Text.Json;
using P2PSwarm.Cli.Networking;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Node.Transport;

namespace P2PSwarm.Cli.Commands;

/// <summary><c>p2pswarm id</c>: the peer id of an identity file and, with <c>--listen</c>, the addresses a node would announce.</summary>
internal static class IdCommand
{
    public static Command Create(CliConsole console)
    {
        var identity = NodeOptions.Identity("Default: the node's key file (P2PSWARM_HOME/identity.key or the user data folder).");
        var listen = new Option<string[]>("--listen")
        {
            Description = "Also print the full /p2p/ multiaddrs a node listening here would announce (wildcards expanded).",
            AllowMultipleArgumentsPerToken = true,
        };
        var json = new Option<bool>("--json") { Description = "Print {\"peerId\": ..., \"addresses\": [...]} instead of text." };
        var command = new Command("id", "Print this node's peer id (creating the identity file on first use) and its addresses.")
        {
            identity, listen, json,
        };
        command.SetAction(parse =>
        {
            try
            {
                using var key = NodeOptions.LoadIdentity(console, parse.GetValue(identity) ?? IdentityFile.DefaultPath);
                if (!NodeOptions.TryParseAddresses(parse.GetValue(listen) ?? [], out var listenAddresses, out var error))
                {
                    console.Error.WriteLine($"error: {error}");
                    return 1;
                }

                var addresses = new List<string>();
                foreach (var address in listenAddresses)
                {
                    if (!address.TryGetEndPoint(out var endPoint))
                    {
                        console.Error.WriteLine($"error: cannot listen on {address}: expected /ip4|ip6/<address>/tcp/<port>");
                        return 1;
                    }

                    addresses.AddRange(InterfaceAddresses.Expand(endPoint).Select(e => Multiaddress.FromEndPoint(e, key.PeerId).ToString()));
                }

                if (parse.GetValue(json))
                {
                    console.Out.WriteLine(JsonSerializer.Serialize(new { peerId = key.PeerId.ToString(), addresses }));
                }
                else
                {
                    console.Out.WriteLine(key.PeerId);
                    foreach (var address in addresses)
                    {
                        console.Out.WriteLine(address);
                    }
                }

                return 0;
            }
            catch (Exception e) when (NodeOptions.IsIdentityFailure(e))
            {
                console.Error.WriteLine($"error: {e.Message}");
                return 1;
            }
        });
        return command;
    }
}
