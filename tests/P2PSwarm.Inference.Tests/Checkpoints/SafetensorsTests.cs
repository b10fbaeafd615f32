using System.Buffers.Binary;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using P2PSwarm.Inference.Checkpoints;

namespace P2PSwarm.Inference.Tests.Checkpoints;

public sealed class SafetensorsTests
{
    [Theory]
    [InlineData(TensorDtype.F32)]
    [InlineData(TensorDtype.F16)]
    [InlineData(TensorDtype.BF16)]
    public void Writer_and_reader_round_trip_each_dtype(TensorDtype dtype)
    {
        using var temp = new TempDirectory();
        var path = temp.Combine("t.safetensors");
        // Values exactly representable in every dtype, so the round trip is exact.
        float[] a = [1f, -2f, 0.5f, 0f, 3.75f, -0.125f];
        float[] b = [.. Enumerable.Range(0, 37).Select(i => (i - 18) * 0.25f)];
        SafetensorsWriter.WriteFile(path, [(new TensorSpec("a", dtype, [2, 3]), a), (new TensorSpec("b", dtype, [37]), b), (new TensorSpec("empty", dtype, [0, 4]), [])]);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(["a", "b", "empty"], file.Entries.Select(e => e.Name));
        Assert.Equal([2L, 3L], file.GetEntry("a").Shape);
        Assert.Equal(dtype, file.GetEntry("b").Dtype);
        Assert.Equal(37 * dtype.ElementSize(), file.GetEntry("b").ByteLength);
        Assert.Equal(a, Read(file, "a"));
        Assert.Equal(b, Read(file, "b"));
        Assert.Empty(Read(file, "empty"));
        Assert.Equal(0, (SafetensorsHeader.PrefixBytes + BinaryPrimitives.ReadInt64LittleEndian(File.ReadAllBytes(path))) % 8);
    }

    [Fact]
    public void Bf16_conversion_is_the_top_half_of_fp32_with_round_to_nearest_even()
    {
        Assert.Equal(0x3F80, TensorDtypes.ToBf16(1f));
        Assert.Equal(0x3F80, TensorDtypes.ToBf16(BitConverter.UInt32BitsToSingle(0x3F808000))); // tie, even stays
        Assert.Equal(0x3F82, TensorDtypes.ToBf16(BitConverter.UInt32BitsToSingle(0x3F818000))); // tie, odd rounds up
        Assert.Equal(0x3F81, TensorDtypes.ToBf16(BitConverter.UInt32BitsToSingle(0x3F808001)));
        Assert.True(float.IsNaN(BitConverter.UInt32BitsToSingle((uint)TensorDtypes.ToBf16(float.NaN) << 16)));
    }

    [Fact]
    public void Vectorised_bf16_and_f16_conversion_matches_the_scalar_definition()
    {
        var random = new Random(5);
        var bits = new ushort[1000];
        for (var i = 0; i < bits.Length; i++)
        {
            bits[i] = (ushort)random.Next(0, 65536);
        }
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(bits.AsSpan()).ToArray();
        var bf16 = new float[bits.Length];
        var f16 = new float[bits.Length];
        TensorDtypes.ConvertToFloat32(TensorDtype.BF16, bytes, bf16);
        TensorDtypes.ConvertToFloat32(TensorDtype.F16, bytes, f16);
        for (var i = 0; i < bits.Length; i++)
        {
            Assert.Equal((uint)bits[i] << 16, BitConverter.SingleToUInt32Bits(bf16[i]));
            Assert.Equal((float)BitConverter.UInt16BitsToHalf(bits[i]), f16[i]);
        }
    }

    [Fact]
    public void Any_fp32_tensor_round_trips_exactly_through_an_F32_file()
    {
        using var temp = new TempDirectory();
        var counter = 0;
        Prop.ForAll(ArbMap.Default.ArbFor<float[]>(), values =>
        {
            var path = temp.Combine($"p{counter++}.safetensors");
            SafetensorsWriter.WriteFile(path, [(new TensorSpec("x", TensorDtype.F32, [values.Length]), values)]);
            using var file = SafetensorsFile.Open(path);
            return Read(file, "x").Select(BitConverter.SingleToUInt32Bits).SequenceEqual(values.Select(BitConverter.SingleToUInt32Bits));
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Arbitrary_header_bytes_parse_or_fail_only_with_a_checkpoint_exception()
    {
        var fragments = Gen.Elements("{", "}", "\"w\"", ":", ",", "\"dtype\"", "\"F32\"", "\"BF16\"", "\"I8\"", "\"shape\"", "\"data_offsets\"",
            "[", "]", "0", "4", "8", "-1", "99999999999999999999", "null", "\"__metadata__\"", "{}");
        var headers = Gen.ListOf(fragments).Select(parts => string.Concat(parts));
        Prop.ForAll(headers.ToArbitrary(), header =>
        {
            try
            {
                SafetensorsHeader.Parse(Encoding.UTF8.GetBytes(header), dataLength: 16, "fuzz.safetensors");
                return true;
            }
            catch (CheckpointException e)
            {
                return e.File == "fuzz.safetensors";
            }
        }).QuickCheckThrowOnFailure();
        Prop.ForAll(ArbMap.Default.ArbFor<byte[]>(), bytes =>
        {
            try
            {
                SafetensorsHeader.Parse(bytes, dataLength: bytes.Length, "fuzz.safetensors");
                return true;
            }
            catch (CheckpointException)
            {
                return true;
            }
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Header_that_is_not_json_names_the_file()
    {
        using var temp = new TempDirectory();
        var path = WriteRaw(temp, "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], ", new byte[4]);
        var error = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        Assert.Contains("not valid JSON", error.Message);
        Assert.Equal(path, error.File);
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Header_length_beyond_the_file_is_rejected_before_allocating()
    {
        using var temp = new TempDirectory();
        var path = temp.Combine("long.safetensors");
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1_000_000);
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        Assert.Contains("runs past the end", error.Message);

        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue);
        File.WriteAllBytes(path, bytes);
        error = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        Assert.Contains("exceeds the", error.Message);
        Assert.Equal(path, error.File);
    }

    [Fact]
    public void File_shorter_than_the_length_prefix_is_truncated()
    {
        using var temp = new TempDirectory();
        var path = temp.Combine("short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Contains("truncated", Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path)).Message);
        File.WriteAllBytes(path, []);
        Assert.Contains("truncated", Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path)).Message);
    }

    [Fact]
    public void Truncated_data_names_the_file_and_the_first_tensor_that_no_longer_fits()
    {
        using var temp = new TempDirectory();
        var path = temp.Combine("t.safetensors");
        SafetensorsWriter.WriteFile(path, [(new TensorSpec("first", TensorDtype.F32, [4]), new float[4]), (new TensorSpec("second", TensorDtype.F32, [4]), new float[4])]);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^3]);

        var error = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        Assert.Equal(path, error.File);
        Assert.Equal("second", error.Tensor);
        Assert.Contains("truncated", error.Message);
        Assert.Contains("second", error.Message);
    }

    [Theory]
    [InlineData("""{"w": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}""", 8, "unsupported dtype I64")]
    [InlineData("""{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}""", 8, "needs 12 bytes but data_offsets span 8")]
    [InlineData("""{"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}""", 8, "outside")]
    [InlineData("""{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "v": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}""", 12, "overlap")]
    [InlineData("""{"w": {"dtype": "F32", "shape": [4000000000, 4000000000, 4000000000], "data_offsets": [0, 8]}}""", 8, "too large")]
    [InlineData("""{"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}""", 8, "non-negative")]
    [InlineData("""{"w": {"dtype": "F32", "data_offsets": [0, 8]}}""", 8, "missing or malformed shape")]
    [InlineData("""{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}""", 8, "listed twice")]
    public void Malformed_entries_name_the_file_and_tensor(string header, int dataBytes, string expected)
    {
        using var temp = new TempDirectory();
        var path = WriteRaw(temp, header, new byte[dataBytes]);
        var error = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        Assert.Contains(expected, error.Message);
        Assert.Equal(path, error.File);
        Assert.NotNull(error.Tensor);
        Assert.Contains($"tensor {error.Tensor}", error.Message);
    }

    [Fact]
    public void Reading_a_tensor_that_is_not_there_names_file_and_tensor()
    {
        using var temp = new TempDirectory();
        var path = temp.Combine("t.safetensors");
        SafetensorsWriter.WriteFile(path, [(new TensorSpec("a", TensorDtype.F32, [1]), [1f])]);
        using var file = SafetensorsFile.Open(path);
        var error = Assert.Throws<CheckpointException>(() => file.GetEntry("b"));
        Assert.Equal("b", error.Tensor);
        Assert.Equal(path, error.File);
    }

    [Fact]
    public void Metadata_is_skipped_and_data_offsets_are_relative_to_the_buffer()
    {
        using var temp = new TempDirectory();
        var data = new byte[12];
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4), 2.5f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(8), -1f);
        var path = WriteRaw(temp, """{"__metadata__": {"format": "pt"}, "x": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}""", data);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal([2.5f, -1f], Read(file, "x"));
    }

    private static float[] Read(SafetensorsFile file, string name)
    {
        var values = new float[file.GetEntry(name).ElementCount];
        file.ReadFloat32(name, values);
        return values;
    }

    private static string WriteRaw(TempDirectory temp, string header, byte[] data)
    {
        var path = temp.Combine($"{Guid.NewGuid():N}.safetensors");
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + json.Length);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
