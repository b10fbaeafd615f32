using P2PSwarm.Cli;

return await P2PSwarmCommandLine.Build(CliConsole.System).Parse(args).InvokeAsync(P2PSwarmCommandLine.Invocation());
