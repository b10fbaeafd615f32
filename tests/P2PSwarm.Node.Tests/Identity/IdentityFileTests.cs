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
    public void A_key_piped_from_a_secret_store_loads_is_told_apart_from_a_key_file_and_an_oversized_one_is_refused()
    {
        // `--identity <(vault read ...)`: a pipe has no length, so the key is read to its end (this threw
        // NotSupportedException from FileStream.Length before). A named pipe behaves as bash's /dev/fd/63 does.
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var key = IdentityKey.Generate();
        using (var piped = LoadThroughPipe(key.ToPrivateKeyProtobuf(), out bool pipeIsRegularFile))
        {
            Assert.Equal(key.PeerId, piped.PeerId);
            Assert.False(pipeIsRegularFile); // `node` keeps no state beside a pipe
        }

        var file = Path.Combine(_folder, "file.key");
        using (var created = IdentityFile.LoadOrCreate(file, null, out bool createdIsRegularFile))
        using (var loaded = IdentityFile.LoadOrCreate(file, null, out bool loadedIsRegularFile))
        {
            Assert.Equal(created.PeerId, loaded.PeerId);
            Assert.True(createdIsRegularFile);
            Assert.True(loadedIsRegularFile);
        }

        var error = Assert.Throws<InvalidDataException>(() => LoadThroughPipe(new byte[2000], out _));
        Assert.Contains("is over 1024 bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_file_other_users_can_read_is_loaded_with_a_warning_that_says_how_to_fix_it()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var path = Path.Combine(_folder, "shared.key");
        using var created = IdentityFile.LoadOrCreate(path);
        var warnings = new List<string>();

        using (var ownerOnly = IdentityFile.LoadOrCreate(path, warnings.Add))
        {
            Assert.Empty(warnings);
        }

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        using var loaded = IdentityFile.LoadOrCreate(path, warnings.Add);

        Assert.Equal(created.PeerId, loaded.PeerId);
        Assert.Equal($"identity file '{path}' can be read or written by other users (mode 644); its private key is this node's identity: chmod 600 '{path}'", Assert.Single(warnings));
    }

    private IdentityKey LoadThroughPipe(byte[] content, out bool isRegularFile)
    {
        Directory.CreateDirectory(_folder);
        var fifo = Path.Combine(_folder, "piped.key");
        File.Delete(fifo);
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", ["-m", "600", fifo]))
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        // The writer blocks in open() until Load opens the read end, then writes and closes: Load reads to that end.
        var writer = Task.Run(() => File.WriteAllBytes(fifo, content));
        try
        {
            return IdentityFile.LoadOrCreate(fifo, null, out isRegularFile);
        }
        finally
        {
            Assert.True(writer.Wait(TimeSpan.FromSeconds(30)), "the writer did not finish");
        }
    }

    [Fact]
    public void A_folder_given_as_the_key_file_is_refused_with_the_path_to_use()
    {
        // Before: "The file '...' already exists." from the creator's move, which named no fix.
        Directory.CreateDirectory(_folder);

        var error = Assert.Throws<IOException>(() => IdentityFile.LoadOrCreate(_folder));

        Assert.Equal($"Identity path '{_folder}' is a folder; pass the key file's path, for example '{Path.Combine(_folder, "identity.key")}'.", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(_folder));
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
