using System.Text.Json.Nodes;
using SlmStudio.Core.Models;
using static TorchSharp.torch;

namespace SlmStudio.Core.Tests.Models;

/// <summary>LoRA adapters on the five architecture fixtures: what they change, what they train, how they are saved.</summary>
public sealed class LoraAdapterTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("slm-lora");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Fixtures => new() { "tiny-llama-hf", "tiny-qwen2-hf", "tiny-mistral-hf", "tiny-phi3-hf", "tiny-phi2-hf" };

    private static string Fixture(string name) => Path.Combine(TestPaths.Fixtures, name);

    private static readonly long[] Prompt = [1, 45, 77, 12, 200, 9, 31, 150, 3, 64];

    private static Tensor Logits(LlamaForCausalLM model)
    {
        using var _ = no_grad();
        using var ids = tensor(Prompt).unsqueeze(0);
        return model.forward(ids).detach().clone();
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    /// <summary>Gives every B a random value, as training would, so that the adapters change the output.</summary>
    private static void Perturb(LoraAdapters adapters, int seed)
    {
        manual_seed(seed);
        using var _ = no_grad();
        foreach (var m in adapters.Modules) nn.init.normal_(m.B, 0, 0.05);
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void FreshAdaptersLeaveTheLogitsExactlyAsTheBaseModelsAndFreezeEveryBaseWeight(string fixture)
    {
        var (model, config) = ModelFolder.Load(Fixture(fixture));
        using var _m = model;
        using var before = Logits(model);
        using var adapters = LoraAdapters.Inject(model, new LoraConfig { Rank = 4 });
        using var after = Logits(model);

        Assert.True(Same(before, after), "zero-initialised B must not change a single logit");
        Assert.All(model.parameters(), p => Assert.False(p.requires_grad));
        Assert.All(adapters.NamedParameters(), p => Assert.True(p.Parameter.requires_grad));
        // One adapter per targeted checkpoint module and layer: the family's default targets.
        Assert.Equal(config.NumLayers * LoraConfig.DefaultTargets(config.Family).Count, adapters.Modules.Count);
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void MergedWeightsGiveTheSameLogitsAsTheAdaptersOnTheBase(string fixture)
    {
        var (model, config) = ModelFolder.Load(Fixture(fixture));
        using var _m = model;
        using var baseLogits = Logits(model);
        using var adapters = LoraAdapters.Inject(model, new LoraConfig { Rank = 4, Alpha = 8, Dropout = 0.1 });
        Perturb(adapters, 3);
        model.eval(); // dropout is off outside training
        using var adapted = Logits(model);
        Assert.True((adapted - baseLogits).abs().max().item<float>() > 1e-3, "the perturbed adapters must change the output for this test to mean anything");

        // A merged model folder, as the trainer writes it, loaded as a plain model.
        using var merged = new LlamaForCausalLM(config);
        ModelFolder.LoadWeights(merged, adapters.MergedWeights(model).ToDictionary(t => t.Name), "merged");
        merged.eval();
        using var fromFolder = Logits(merged);
        Assert.True((fromFolder - adapted).abs().max().item<float>() < 1e-4);

        // Merging in place gives the same model and takes the adapters out of the forward pass.
        adapters.MergeIntoBase();
        using var inPlace = Logits(model);
        Assert.True((inPlace - adapted).abs().max().item<float>() < 1e-4);
        Assert.True(Same(inPlace, fromFolder), "both merges make the same float32 additions");
    }

    [Fact]
    public void OnlyAdapterParametersReceiveGradients()
    {
        var (model, _) = ModelFolder.Load(Fixture("tiny-llama-hf"));
        using var _m = model;
        using var adapters = LoraAdapters.Inject(model, new LoraConfig { Rank = 4 });
        Perturb(adapters, 5); // with B = 0 the gradient of A would be exactly zero
        model.train();
        using var ids = tensor(Prompt).unsqueeze(0);
        using var logits = model.forward(ids);
        var length = Prompt.Length - 1;
        using var loss = nn.functional.cross_entropy(logits[0].narrow(0, 0, length), ids[0].narrow(0, 1, length));
        loss.backward();

        Assert.All(model.parameters(), p => Assert.True(p.grad is null, "a frozen base weight got a gradient"));
        Assert.All(adapters.NamedParameters(), p =>
        {
            Assert.NotNull(p.Parameter.grad);
            Assert.True(p.Parameter.grad!.abs().sum().item<float>() > 0, $"{p.Name} got no gradient");
        });
        var trainable = adapters.ParameterCount;
        var frozen = model.parameters().Sum(p => p.numel());
        Assert.True(trainable < frozen / 5, $"{trainable} adapter parameters for {frozen} frozen ones");
    }

    [Fact]
    public void Phi3AdaptersAreSavedInPeftLayoutWithFusedModulesAndLoadBack()
    {
        var (model, config) = ModelFolder.Load(Fixture("tiny-phi3-hf"));
        using var _m = model;
        using var adapters = LoraAdapters.Inject(model, new LoraConfig { Rank = 4, Alpha = 8 });
        Perturb(adapters, 7);
        model.eval();
        using var adapted = Logits(model);
        var folder = Path.Combine(_dir, "adapter");
        adapters.SavePeft(folder, "tiny-phi3-hf");

        var tensors = SafetensorsFile.Read(Path.Combine(folder, LoraAdapters.AdapterWeightsFile));
        long q = (long)config.NumHeads * config.HeadDim, kv = (long)config.NumKvHeads * config.HeadDim;
        Assert.Equal(config.NumLayers * 4 * 2, tensors.Count);
        Assert.Equal([4L, config.HiddenSize], tensors["base_model.model.model.layers.0.self_attn.qkv_proj.lora_A.weight"].Shape);
        Assert.Equal([q + 2 * kv, 4L], tensors["base_model.model.model.layers.0.self_attn.qkv_proj.lora_B.weight"].Shape);
        Assert.Equal([2L * config.IntermediateSize, 4L], tensors["base_model.model.model.layers.1.mlp.gate_up_proj.lora_B.weight"].Shape);
        Assert.Equal([(long)config.HiddenSize, 4L], tensors["base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"].Shape);
        Assert.DoesNotContain(tensors.Keys, k => k.Contains("q_proj", StringComparison.Ordinal) || k.Contains("gate_proj", StringComparison.Ordinal));

        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, LoraAdapters.AdapterConfigFile)))!;
        Assert.Equal("LORA", json["peft_type"]!.GetValue<string>());
        Assert.Equal("CAUSAL_LM", json["task_type"]!.GetValue<string>());
        Assert.Equal("tiny-phi3-hf", json["base_model_name_or_path"]!.GetValue<string>());
        Assert.Equal(4, json["r"]!.GetValue<int>());
        Assert.Equal(8, json["lora_alpha"]!.GetValue<double>());
        Assert.Equal(["qkv_proj", "o_proj", "gate_up_proj", "down_proj"], json["target_modules"]!.AsArray().Select(t => t!.GetValue<string>()));

        // The saved adapter on a fresh copy of the base reproduces the adapted model.
        var (fresh, _) = ModelFolder.Load(Fixture("tiny-phi3-hf"));
        using var _f = fresh;
        using var loaded = LoraAdapters.LoadPeft(fresh, folder);
        fresh.eval();
        using var reloaded = Logits(fresh);
        Assert.True(Same(reloaded, adapted));
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void MemoryEstimateCountsExactlyTheParametersTheAdaptersTrain(string fixture)
    {
        var (model, config) = ModelFolder.Load(Fixture(fixture));
        using var _m = model;
        var lora = new LoraConfig { Rank = 4 };
        using var adapters = LoraAdapters.Inject(model, lora);
        var withLora = SlmStudio.Core.Training.FineTuneEstimate.For(config, lora, batchSize: 4, contextLength: 32);
        var full = SlmStudio.Core.Training.FineTuneEstimate.For(config, null, batchSize: 4, contextLength: 32);

        Assert.Equal(adapters.ParameterCount, withLora.TrainableParameters);
        Assert.Equal(config.ParameterCount, full.TrainableParameters);
        Assert.Equal(withLora.WeightBytes, full.WeightBytes); // the frozen base is held either way
        Assert.Equal(12 * adapters.ParameterCount, withLora.GradientAndOptimizerBytes);
        Assert.True(withLora.ActivationBytes > full.ActivationBytes, "the adapters keep activations of their own");
        var withoutDropout = SlmStudio.Core.Training.FineTuneEstimate.For(config, lora with { Dropout = 0 }, batchSize: 4, contextLength: 32);
        Assert.True(withoutDropout.ActivationBytes < withLora.ActivationBytes, "dropout copies each adapter's input");
    }

    [Fact]
    public void LoraNeedsFarLessMemoryThanFullFineTuningForARealModelShape()
    {
        var smol = PublishedConfigs.Get("smollm2-135m")!;
        Assert.Equal(134_515_008, smol.ParameterCount); // SmolLM2-135M as published
        var lora = SlmStudio.Core.Training.FineTuneEstimate.For(smol, new LoraConfig(), batchSize: 4, contextLength: 256);
        var full = SlmStudio.Core.Training.FineTuneEstimate.For(smol, null, batchSize: 4, contextLength: 256);
        Assert.True(full.GradientAndOptimizerBytes > 1_500_000_000);
        Assert.True(lora.GradientAndOptimizerBytes < 50_000_000, $"{lora.GradientAndOptimizerBytes:N0}");
        // Dropout keeps a copy of each adapted layer's input, which eats part of the saving at this batch size.
        Assert.True(full.PeakBytes - lora.PeakBytes > 500_000_000, $"{full.PeakBytes:N0} vs {lora.PeakBytes:N0}");
        var noDropout = SlmStudio.Core.Training.FineTuneEstimate.For(smol, new LoraConfig { Dropout = 0 }, batchSize: 4, contextLength: 256);
        Assert.True(full.PeakBytes - noDropout.PeakBytes > 1_500_000_000, $"{full.PeakBytes:N0} vs {noDropout.PeakBytes:N0}");
    }

    [Fact]
    public void Phi2AdaptersUseItsOwnModuleNames()
    {
        var (model, _) = ModelFolder.Load(Fixture("tiny-phi2-hf"));
        using var _m = model;
        using var adapters = LoraAdapters.Inject(model, new LoraConfig { Rank = 2 });
        var names = adapters.Modules.Select(m => m.ModuleName[(m.ModuleName.LastIndexOf('.') + 1)..]).Distinct().Order().ToList();
        Assert.Equal(["dense", "fc1", "fc2", "k_proj", "q_proj", "v_proj"], names);
    }

    [Fact]
    public void UnknownTargetModuleIsRefusedByNameWithTheLayersThereAre()
    {
        var (model, _) = ModelFolder.Load(Fixture("tiny-llama-hf"));
        using var _m = model;
        var e = Assert.Throws<EngineException>(() => LoraAdapters.Inject(model, new LoraConfig { TargetModules = ["q_proj", "qkv_proj"] }));
        Assert.Contains("'qkv_proj'", e.Message);
        Assert.Contains("gate_proj", e.Message);
        Assert.All(model.parameters(), p => Assert.True(p.requires_grad)); // nothing was frozen by the refused call
    }

    [Theory]
    [InlineData(0, 16, 0.05, "rank")]
    [InlineData(8, -1, 0.05, "alpha")]
    [InlineData(8, 16, 1.0, "dropout")]
    public void ImpossibleSettingsAreRefused(int rank, double alpha, double dropout, string named)
    {
        var e = Assert.Throws<EngineException>(() => new LoraConfig { Rank = rank, Alpha = alpha, Dropout = dropout }.Validate());
        Assert.Contains(named, e.Message);
    }
}
