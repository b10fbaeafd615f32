using Microsoft.Extensions.Logging;

namespace P2PSwarm.Interop.Tests.Fixtures;

/// <summary>A logger factory that keeps the host's last log lines, so a failed interop test can show both sides.</summary>
internal sealed class LogTail : ILoggerFactory
{
    private const int MaxLines = 300;
    private readonly Queue<string> _lines = new();

    public ILogger CreateLogger(string categoryName) => new TailLogger(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    public override string ToString()
    {
        lock (_lines)
        {
            return string.Join('\n', _lines);
        }
    }

    private void Add(string line)
    {
        lock (_lines)
        {
            _lines.Enqueue(line);
            if (_lines.Count > MaxLines)
            {
                _lines.Dequeue();
            }
        }
    }

    private sealed class TailLogger(LogTail tail, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var shortCategory = category[(category.LastIndexOf('.') + 1)..];
            tail.Add($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {shortCategory}[{eventId.Id}] {formatter(state, exception)}{(exception is null ? "" : " | " + exception.GetType().Name + ": " + exception.Message)}");
        }
    }
}
