using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Tests.Identity;

public sealed class IdentityFileTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "p2pswarm-identity-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    [Fact]
    public void Creates_parent_folders_and_an_owner_only_file_then_loads_the_same_key()
    {
        var path = Path.Combine(_folder, "nested", "identity.key");

        using var created = IdentityFile.LoadOrCreate(path);
        using var loaded = IdentityFile.LoadOrCreate(path);

        Assert.Equal(created.PeerId, loaded.PeerId);
        Assert.Equal(created.ToPrivateKeyProtobuf(), File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
    }

    [Fact]
    public void Loads_the_spec_private_key()
    {
        Directory.CreateDirectory(_folder);
        var path = Path.Combine(_folder, "spec.key");
        File.WriteAllBytes(path, Convert.FromHexString(IdentityKeyTests.PrivateKeyHex));

        using var key = IdentityFile.LoadOrCreate(path);

        Assert.Equal(PeerIdTests.PeerIdBase58, key.PeerId.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("0801")]
    [InlineData("08011220" + "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e")]
    public void Corrupt_file_is_reported_by_name_and_left_untouched(string hex)
    {
        Directory.CreateDirectory(_folder);
        var path = Path.Combine(_folder, "corrupt.key");
        var content = Convert.FromHexString(hex);
        File.WriteAllBytes(path, content);

        var error = Assert.Throws<InvalidDataException>(() => IdentityFile.LoadOrCreate(path));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Equal(content, File.ReadAllBytes(path));
    }

    [Fact]
    public void Oversized_file_is_rejected_without_reading_it_as_a_key()
    {
        Directory.CreateDirectory(_folder);
        var path = Path.Combine(_folder, "big.key");
        File.WriteAllBytes(path, new byte[100_000]);

        var error = Assert.Throws<InvalidDataException>(() => IdentityFile.LoadOrCreate(path));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Concurrent_creators_agree_on_one_key()
    {
        var path = Path.Combine(_folder, "race.key");

        var keys = Enumerable.Range(0, 8).AsParallel().Select(_ => IdentityFile.LoadOrCreate(path)).ToList();

        Assert.Single(keys.Select(k => k.PeerId).Distinct());
        Assert.Single(Directory.GetFiles(_folder));
        keys.ForEach(k => k.Dispose());
    }

    [Fact]
    public void Default_path_honours_p2pswarm_home()
    {
        var previous = Environment.GetEnvironmentVariable(IdentityFile.HomeVariable);
        try
        {
            Environment.SetEnvironmentVariable(IdentityFile.HomeVariable, _folder);
            Assert.Equal(Path.Combine(_folder, "identity.key"), IdentityFile.DefaultPath);

            Environment.SetEnvironmentVariable(IdentityFile.HomeVariable, null);
            Assert.EndsWith(Path.Combine("p2pswarm", "identity.key"), IdentityFile.DefaultPath, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(IdentityFile.HomeVariable, previous);
        }
    }
}
