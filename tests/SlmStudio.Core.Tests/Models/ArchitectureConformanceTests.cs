using System.Buffers.Binary;
using System.Text.Json;
using SlmStudio.Core.Models;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace SlmStudio.Core.Tests.Models;

/// <summary>Every supported family against its fixture's independent float64 reference (../shared/fixtures/README.md).</summary>
public class ArchitectureConformanceTests(ITestOutputHelper output)
{
    public static TheoryData<string> Fixtures => new() { "tiny-llama-hf", "tiny-qwen2-hf", "tiny-mistral-hf", "tiny-phi3-hf", "tiny-phi2-hf" };

    internal sealed record Expected(int[] input_ids, double[][] logits, int[] greedy_next_16);

    internal static string FixtureDir(string name) => Path.Combine(TestPaths.Fixtures, name);

    internal static Expected LoadExpected(string fixture) =>
        JsonSerializer.Deserialize<Expected>(File.ReadAllText(Path.Combine(FixtureDir(fixture), "expected.json")))!;

    internal static double MaxLogitDiff(LlamaForCausalLM model, Expected expected)
    {
        using var _ = no_grad();
        using var ids = tensor(expected.input_ids.Select(i => (long)i).ToArray(), [1, expected.input_ids.Length]);
        using var logits = model.forward(ids);
        var actual = logits.squeeze(0).data<float>().ToArray();
        var v = model.Config.VocabSize;
        double maxDiff = 0;
        for (int t = 0; t < expected.logits.Length; t++)
            for (int j = 0; j < v; j++)
                maxDiff = Math.Max(maxDiff, Math.Abs(actual[t * v + j] - expected.logits[t][j]));
        return maxDiff;
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void LogitsMatchReferenceAndGreedyIsExact(string fixture)
    {
        var expected = LoadExpected(fixture);
        var (model, _) = ModelFolder.Load(FixtureDir(fixture));
        var diff = MaxLogitDiff(model, expected);
        var greedy = Generation.Greedy(model, expected.input_ids, expected.greedy_next_16.Length);
        output.WriteLine($"{fixture}: max |logit diff| {diff:E2}, greedy {(greedy.SequenceEqual(expected.greedy_next_16) ? "exact" : "DIFFERENT")}");
        Assert.True(diff < 1e-4, $"{fixture}: max |logit difference| = {diff}");
        Assert.Equal(expected.greedy_next_16, greedy);
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void KvCacheDecodingMatchesFullForward(string fixture)
    {
        // 24 positions: beyond Mistral's window of 4 both in the prefill chunk and while decoding one at a time.
        var expected = LoadExpected(fixture);
        var (model, _) = ModelFolder.Load(FixtureDir(fixture));
        using var _ = no_grad();
        var ids = expected.input_ids.Concat(expected.greedy_next_16).Select(i => (long)i).ToArray();
        using var full = model.forward(tensor(ids, [1, ids.Length]));
        using var cache = new KvCache(model.Config.NumLayers);
        var parts = new List<Tensor> { model.Forward(tensor(ids[..6], [1, 6]), cache), model.Forward(tensor(ids[6..9], [1, 3]), cache) };
        for (int i = 9; i < ids.Length; i++) parts.Add(model.Forward(tensor(new[] { ids[i] }, [1, 1]), cache));
        using var stepwise = cat(parts, 1);
        var diff = (full - stepwise).abs().max().item<float>();
        Assert.True(diff < 1e-4, $"{fixture}: max difference {diff}");
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void ParameterListAndCountMatchTheBuiltModel(string fixture)
    {
        var (model, config) = ModelFolder.Load(FixtureDir(fixture));
        var built = model.named_parameters().Select(p => (p.name, string.Join(",", p.parameter.shape))).ToList();
        var listed = CheckpointLayout.ModelParameters(config).Select(p => (p.Name, string.Join(",", p.Shape))).ToList();
        Assert.Equal(built, listed);
        Assert.Equal(config.ParameterCount, model.parameters().Sum(p => p.numel()));
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void SaveWritesTheFamilysOwnLayoutBitIdentically(string fixture)
    {
        var dir = TestPaths.NewTempDir();
        var (model, config) = ModelFolder.Load(FixtureDir(fixture));
        ModelFolder.Save(model, null, dir);
        var original = SafetensorsFile.Read(Path.Combine(FixtureDir(fixture), "model.safetensors"));
        var saved = SafetensorsFile.Read(Path.Combine(dir, "model.safetensors"));
        Assert.Equal(original.Keys.Order(), saved.Keys.Order());
        foreach (var (name, t) in original) Assert.Equal(t.Data, saved[name].Data);
        var reloaded = LlamaConfig.Load(Path.Combine(dir, "config.json"));
        // Saving always writes head_dim; otherwise the saved config is the loaded one.
        Assert.Equal(config with { HeadDimOverride = config.HeadDim }, reloaded with { HeadDimOverride = reloaded.HeadDim });
        using var savedJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json")));
        using var originalJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureDir(fixture), "config.json")));
        Assert.Equal(originalJson.RootElement.GetProperty("model_type").GetString(), savedJson.RootElement.GetProperty("model_type").GetString());
        Assert.Equal(originalJson.RootElement.GetProperty("architectures")[0].GetString(), savedJson.RootElement.GetProperty("architectures")[0].GetString());
    }

    [Fact]
    public void FamiliesGetTheirOptionsFromConfig()
    {
        var qwen = LlamaConfig.Load(Path.Combine(FixtureDir("tiny-qwen2-hf"), "config.json"));
        Assert.True(qwen is { Family: ModelFamily.Qwen2, QkvBias: true, OutputProjectionBias: false, RopeTheta: 1e6, RmsNormEps: 1e-6, SlidingWindow: null });
        var mistral = LlamaConfig.Load(Path.Combine(FixtureDir("tiny-mistral-hf"), "config.json"));
        Assert.True(mistral is { Family: ModelFamily.Mistral, SlidingWindow: 4, QkvBias: false, TieWordEmbeddings: false });
        var phi3 = LlamaConfig.Load(Path.Combine(FixtureDir("tiny-phi3-hf"), "config.json"));
        Assert.True(phi3 is { Family: ModelFamily.Phi3, NumKvHeads: 3, SlidingWindow: 2047, GatedMlp: true });
        var phi = LlamaConfig.Load(Path.Combine(FixtureDir("tiny-phi2-hf"), "config.json"));
        Assert.True(phi is { Family: ModelFamily.Phi, Norm: NormKind.LayerNorm, ParallelBlock: true, GatedMlp: false, Activation: "gelu_new", LmHeadBias: true, RotaryDim: 4, MlpBias: true });
    }

    [Fact]
    public void SlidingWindowChangesTheOutput()
    {
        // The window must bind: the same weights with the window widened past the prompt give different logits.
        var dir = CopyFixture("tiny-mistral-hf");
        EditConfig(dir, "\"sliding_window\": 4", "\"sliding_window\": 100");
        var expected = LoadExpected("tiny-mistral-hf");
        var (wide, _) = ModelFolder.Load(dir);
        Assert.True(MaxLogitDiff(wide, expected) > 1e-2);
    }

    // --- refused folders -------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("tiny-llama-hf", "\"model_type\": \"llama\"", "\"model_type\": \"gpt_neox\"", "gpt_neox")]
    [InlineData("tiny-qwen2-hf", "\"Qwen2ForCausalLM\"", "\"Qwen2MoeForCausalLM\"", "Qwen2MoeForCausalLM")]
    [InlineData("tiny-llama-hf", "\"hidden_act\": \"silu\"", "\"hidden_act\": \"relu\"", "relu")]
    [InlineData("tiny-llama-hf", "\"mlp_bias\": false", "\"mlp_bias\": false, \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}", "yarn")]
    [InlineData("tiny-phi3-hf", "\"rope_scaling\": null", "\"rope_scaling\": {\"type\": \"longrope\", \"short_factor\": [1], \"long_factor\": [1]}", "longrope")]
    [InlineData("tiny-phi2-hf", "\"qk_layernorm\": false", "\"qk_layernorm\": true", "qk_layernorm")]
    [InlineData("tiny-qwen2-hf", "\"use_sliding_window\": false", "\"use_sliding_window\": true", "use_sliding_window")]
    public void UnsupportedConfigurationsAreRefusedByName(string fixture, string from, string to, string named)
    {
        var dir = CopyFixture(fixture);
        EditConfig(dir, from, to);
        var e = Assert.Throws<UnsupportedModelException>(() => ModelFolder.Load(dir));
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void LlamaWeightsUnderAnotherFamilysConfigAreRefused()
    {
        // Llama weights lack Qwen2's q/k/v biases: refused naming the first missing tensor, nothing loaded silently.
        var dir = CopyFixture("tiny-llama-hf");
        EditConfig(dir, "\"LlamaForCausalLM\"", "\"Qwen2ForCausalLM\"");
        EditConfig(dir, "\"model_type\": \"llama\"", "\"model_type\": \"qwen2\"");
        var e = Assert.Throws<UnsupportedModelException>(() => ModelFolder.Load(dir));
        Assert.Contains("q_proj.bias", e.Message);
    }

    [Fact]
    public void WronglyShapedFusedTensorIsNamed()
    {
        // 2 key/value heads make q,k,v 80 rows, but Phi-3's fused qkv_proj holds 96: refused naming the fused tensor.
        var dir = CopyFixture("tiny-phi3-hf");
        EditConfig(dir, "\"num_key_value_heads\": 3", "\"num_key_value_heads\": 2");
        var e = Assert.Throws<UnsupportedModelException>(() => ModelFolder.Load(dir));
        Assert.Contains("self_attn.qkv_proj.weight", e.Message);
        Assert.Contains("[96, 48]", e.Message);
    }

    // --- float16 / bfloat16 and sharded checkpoints ----------------------------------------------------------------

    [Theory]
    [InlineData("tiny-phi3-hf", "BF16")]
    [InlineData("tiny-qwen2-hf", "F16")]
    [InlineData("tiny-phi2-hf", "BF16")]
    public void HalfPrecisionWeightsLoadAsTheirFloat32Values(string fixture, string dtype)
    {
        var dir = CopyFixture(fixture);
        var original = SafetensorsFile.Read(Path.Combine(FixtureDir(fixture), "model.safetensors"));
        WriteSafetensors(Path.Combine(dir, "model.safetensors"), original.Values, dtype);
        var (model, _) = ModelFolder.Load(dir);
        var loaded = ModelFolder.ExportWeights(model).ToDictionary(t => t.Name);
        Assert.Equal(original.Keys.Order(), loaded.Keys.Order());
        foreach (var (name, t) in original)
        {
            // Computed here independently of the loader: round to the half type, then widen back.
            var want = t.Data.Select(x => dtype == "BF16" ? BFloat16RoundTrip(x) : (float)(Half)x).ToArray();
            Assert.Equal(want, loaded[name].Data);
        }
        // Still the same model: half precision moves the logits a little, not the argmax of the prompt's last position much.
        var expected = LoadExpected(fixture);
        var diff = MaxLogitDiff(model, expected);
        output.WriteLine($"{fixture} {dtype}: max |logit diff| to float32 reference {diff:E2}");
        Assert.True(diff < 0.05, $"{dtype} logits differ by {diff}");
    }

    [Fact]
    public void ShardedCheckpointLoadsLikeTheSingleFile()
    {
        var dir = CopyFixture("tiny-phi3-hf");
        File.Delete(Path.Combine(dir, "model.safetensors"));
        var shards = WriteShards(dir, SafetensorsFile.Read(Path.Combine(FixtureDir("tiny-phi3-hf"), "model.safetensors")), 3);
        Assert.Equal(3, shards.Count);
        var (model, _) = ModelFolder.Load(dir);
        var expected = LoadExpected("tiny-phi3-hf");
        Assert.True(MaxLogitDiff(model, expected) < 1e-4);
        Assert.Equal(expected.greedy_next_16, Generation.Greedy(model, expected.input_ids, 16));
        Assert.Equal(SafetensorsFile.Read(Path.Combine(FixtureDir("tiny-phi3-hf"), "model.safetensors")).Count, ModelFolder.ReadWeights(dir).Count);
    }

    [Fact]
    public void MissingShardIsRefusedByName()
    {
        var dir = CopyFixture("tiny-mistral-hf");
        File.Delete(Path.Combine(dir, "model.safetensors"));
        var shards = WriteShards(dir, SafetensorsFile.Read(Path.Combine(FixtureDir("tiny-mistral-hf"), "model.safetensors")), 2);
        File.Delete(Path.Combine(dir, shards[1]));
        var e = Assert.Throws<InvalidModelFileException>(() => ModelFolder.Load(dir));
        Assert.Contains(shards[1], e.Message);
        Assert.Contains("missing", e.Message);
    }

    // --- helpers ---------------------------------------------------------------------------------------------------

    internal static string CopyFixture(string fixture)
    {
        var dir = TestPaths.NewTempDir();
        foreach (var f in Directory.GetFiles(FixtureDir(fixture))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        return dir;
    }

    internal static void EditConfig(string dir, string from, string to)
    {
        var path = Path.Combine(dir, "config.json");
        var text = File.ReadAllText(path);
        Assert.Contains(from, text);
        File.WriteAllText(path, text.Replace(from, to));
    }

    /// <summary>Round to nearest even in bfloat16 (as torch does) and widen back to float32.</summary>
    private static float BFloat16RoundTrip(float x)
    {
        var bits = (uint)BitConverter.SingleToInt32Bits(x);
        bits += 0x7FFF + ((bits >> 16) & 1);
        return BitConverter.Int32BitsToSingle((int)(bits & 0xFFFF0000));
    }

    /// <summary>A safetensors file in F32, F16 or BF16, written here (not by the code under test).</summary>
    internal static void WriteSafetensors(string path, IEnumerable<NamedTensor> tensors, string dtype)
    {
        int size = dtype == "F32" ? 4 : 2;
        var list = tensors.ToList();
        var header = new Dictionary<string, object> { ["__metadata__"] = new Dictionary<string, string> { ["format"] = "pt" } };
        long offset = 0;
        foreach (var t in list)
        {
            header[t.Name] = new { dtype, shape = t.Shape, data_offsets = new[] { offset, offset + t.Data.Length * size } };
            offset += t.Data.Length * size;
        }
        var headerBytes = JsonSerializer.SerializeToUtf8Bytes(header);
        using var stream = File.Create(path);
        var len = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(len, headerBytes.Length);
        stream.Write(len);
        stream.Write(headerBytes);
        foreach (var t in list)
        {
            var bytes = new byte[t.Data.Length * size];
            for (int i = 0; i < t.Data.Length; i++)
            {
                if (dtype == "F32") BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), t.Data[i]);
                else if (dtype == "F16") BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(i * 2), (Half)t.Data[i]);
                else BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), (ushort)(BitConverter.SingleToInt32Bits(BFloat16RoundTrip(t.Data[i])) >> 16));
            }
            stream.Write(bytes);
        }
    }

    /// <summary>Splits tensors round-robin into model-0000k-of-0000n.safetensors plus the index; returns the shard names.</summary>
    internal static List<string> WriteShards(string dir, IReadOnlyDictionary<string, NamedTensor> tensors, int count)
    {
        var names = Enumerable.Range(1, count).Select(k => $"model-{k:D5}-of-{count:D5}.safetensors").ToList();
        var ordered = tensors.Values.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        var weightMap = new Dictionary<string, string>();
        for (int k = 0; k < count; k++)
        {
            var part = ordered.Where((_, i) => i % count == k).ToList();
            WriteSafetensors(Path.Combine(dir, names[k]), part, "F32");
            foreach (var t in part) weightMap[t.Name] = names[k];
        }
        File.WriteAllText(Path.Combine(dir, ModelFolder.WeightsIndexFile), JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = weightMap }));
        return names;
    }
}
