using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SlmStudio.Core.Models;

#pragma warning disable IDE1006 // field names are PEFT's parameter names

/// <summary>
/// The adapter of one checkpoint module (e.g. <c>model.layers.0.self_attn.q_proj</c>): lora_A (rank, in) initialised
/// like a linear layer (Kaiming uniform), lora_B (out, rank) zero, so a fresh adapter changes nothing. Its update is
/// added to the frozen projection's output by a forward hook. A fused checkpoint module (Phi-3's qkv_proj, gate_up_proj)
/// is several projections in this model: they share lora_A, and each adds its own block of rows of lora_B, which is
/// exactly what PEFT computes for the fused layer.
/// </summary>
public sealed class LoraLinear : nn.Module
{
    private readonly Linear lora_A;
    private readonly Linear lora_B;
    private readonly double _scale, _dropout;
    private readonly List<(Linear Target, long FirstRow, long Rows)> _parts;
    private readonly List<Action> _removeHooks = [];

    /// <summary>The module's name in the checkpoint (and in PEFT's adapter file).</summary>
    public string ModuleName { get; }

    internal LoraLinear(string moduleName, IReadOnlyList<(Linear Target, long FirstRow, long Rows)> parts, long inFeatures, LoraConfig config)
        : base(nameof(LoraLinear))
    {
        ModuleName = moduleName;
        _parts = parts.ToList();
        _scale = config.Scale;
        _dropout = config.Dropout;
        var outFeatures = _parts.Sum(p => p.Rows);
        lora_A = nn.Linear(inFeatures, config.Rank, hasBias: false);
        lora_B = nn.Linear(config.Rank, outFeatures, hasBias: false);
        using (no_grad())
        {
            nn.init.kaiming_uniform_(lora_A.weight!, a: Math.Sqrt(5)); // PEFT's default for A
            lora_B.weight!.zero_();
        }
        RegisterComponents();
    }

    public Parameter A => lora_A.weight!;
    public Parameter B => lora_B.weight!;

    internal void Attach()
    {
        foreach (var (target, firstRow, rows) in _parts)
        {
            var narrow = _parts.Count > 1;
            var hook = target.register_forward_hook((module, input, output) =>
                output + Update(input, module.training, narrow ? (firstRow, rows) : null));
            _removeHooks.Add(hook.remove);
        }
    }

    internal void Detach()
    {
        foreach (var remove in _removeHooks) remove();
        _removeHooks.Clear();
    }

    private Tensor Update(Tensor input, bool training, (long First, long Rows)? block)
    {
        var x = training && _dropout > 0 ? F.dropout(input, _dropout, training: true) : input;
        var b = block is { } r ? B.narrow(0, r.First, r.Rows) : (Tensor)B;
        return F.linear(lora_A.forward(x), b) * _scale;
    }

    /// <summary>(alpha / rank) · B·A for the whole checkpoint module: what merging adds to its weight.</summary>
    public Tensor Delta()
    {
        using var _ = no_grad();
        return B.matmul(A) * _scale;
    }

    /// <summary>Adds the update to the frozen weights (each part its block of rows) and stops adding it at run time.</summary>
    internal void MergeIntoTargets()
    {
        Detach();
        using var _ = no_grad();
        using var delta = Delta();
        foreach (var (target, firstRow, rows) in _parts)
        {
            using var block = delta.narrow(0, firstRow, rows);
            target.weight!.add_(block);
        }
    }
}

/// <summary>
/// LoRA adapters injected into a loaded model: every base parameter frozen (requires_grad false, so no gradients and
/// no optimizer state for it), one <see cref="LoraLinear"/> per targeted checkpoint module. The model's own parameters
/// and names do not change, so saving, export and the ONNX graph see a plain model (with <see cref="MergedWeights"/>
/// when the adapters must be in it). Saved for use elsewhere in PEFT's layout.
/// </summary>
public sealed class LoraAdapters : IDisposable
{
    public const string AdapterConfigFile = "adapter_config.json";
    public const string AdapterWeightsFile = "adapter_model.safetensors";
    /// <summary>Where a model folder keeps the adapters it was fine-tuned with (the merged weights are the folder's own).</summary>
    public const string FolderName = "adapter";
    /// <summary>PEFT's prefix on adapter tensor names (PeftModel.base_model.model is the wrapped transformers model).</summary>
    public const string PeftKeyPrefix = "base_model.model.";
    /// <summary>The label head of a sequence classifier (transformers' name), trained in full beside the adapters.</summary>
    public const string ClassifierHead = "score";

    public LoraConfig Config { get; }
    public IReadOnlyList<LoraLinear> Modules { get; }
    public bool Merged { get; private set; }
    private readonly LlamaConfig _modelConfig;

    private LoraAdapters(LoraConfig config, LlamaConfig modelConfig, IReadOnlyList<LoraLinear> modules)
    {
        Config = config;
        _modelConfig = modelConfig;
        Modules = modules;
    }

    public static LoraAdapters Inject(LlamaForCausalLM model, LoraConfig config) => Inject(model, model.Config, config);

    /// <summary>
    /// Freezes every parameter of <paramref name="root"/> and attaches adapters to the linear layers whose checkpoint
    /// module name ends in one of the config's targets. Parameter names are the model's (Llama) names under
    /// <paramref name="root"/>; <see cref="CheckpointLayout"/> gives their checkpoint names.
    /// </summary>
    public static LoraAdapters Inject(nn.Module root, LlamaConfig modelConfig, LoraConfig config)
    {
        config.Validate();
        var modules = root.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
        var targets = config.TargetsFor(modelConfig.Family).ToHashSet(StringComparer.Ordinal);
        var groups = new Dictionary<string, List<(Linear Target, long FirstRow, long Rows, long In)>>(StringComparer.Ordinal);
        var linearNames = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (name, parameter) in root.named_parameters())
        {
            if (!name.EndsWith(".weight", StringComparison.Ordinal) || parameter.dim() != 2) continue;
            var slot = CheckpointLayout.Locate(modelConfig, name, parameter.shape);
            var checkpointModule = slot.TensorName[..^".weight".Length];
            var leaf = checkpointModule[(checkpointModule.LastIndexOf('.') + 1)..];
            var isLinear = modules.TryGetValue(name[..^".weight".Length], out var module) && module is Linear;
            if (isLinear) linearNames.Add(leaf);
            if (!targets.Contains(leaf)) continue;
            if (!isLinear) throw new EngineException($"LoRA adapts linear layers only, and '{leaf}' is not one. Choose among: {string.Join(", ", linearNames)}.");
            if (!groups.TryGetValue(checkpointModule, out var parts)) groups[checkpointModule] = parts = [];
            parts.Add(((Linear)module!, slot.FirstRow, slot.Rows, parameter.shape[1]));
        }
        var missing = targets.Where(t => !linearNames.Contains(t)).ToList();
        if (missing.Count > 0)
            throw new EngineException($"This {modelConfig.ArchitectureName} model has no layer named {string.Join(", ", missing.Select(m => $"'{m}'"))} to adapt. Its linear layers are: {string.Join(", ", linearNames)}.");

        foreach (var p in root.parameters()) p.requires_grad = false;
        var device = root.parameters().First().device;
        var adapters = groups.Select(g =>
        {
            var adapter = new LoraLinear(g.Key, g.Value.OrderBy(p => p.FirstRow).Select(p => (p.Target, p.FirstRow, p.Rows)).ToList(), g.Value[0].In, config);
            adapter.to(device);
            adapter.Attach();
            return adapter;
        }).ToList();
        return new LoraAdapters(config, modelConfig, adapters);
    }

    /// <summary>The trainable parameters, named "MODULE.lora_A.weight" / "MODULE.lora_B.weight" (checkpoint module names).</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> NamedParameters() =>
        Modules.SelectMany(m => new[] { ($"{m.ModuleName}.lora_A.weight", m.A), ($"{m.ModuleName}.lora_B.weight", m.B) }).ToList();

    public long ParameterCount => Modules.Sum(m => m.A.numel() + m.B.numel());

    /// <summary>The adapters' tensors under their <see cref="NamedParameters"/> names, on the CPU.</summary>
    public IEnumerable<NamedTensor> Tensors() => NamedParameters().Select(p => NamedTensors.Of(p.Name, p.Parameter)).ToList();

    /// <summary>Copies adapter tensors (as <see cref="Tensors"/> names them) in, refusing a missing or wrongly shaped one by name.</summary>
    public void Load(IReadOnlyDictionary<string, NamedTensor> tensors, string source)
    {
        using var _ = no_grad();
        foreach (var (name, parameter) in NamedParameters())
        {
            if (!tensors.TryGetValue(name, out var t))
                throw new UnsupportedModelException($"{source} has no adapter weight '{name}': it was made for other target modules or another model.");
            if (!t.Shape.SequenceEqual(parameter.shape))
                throw new UnsupportedModelException($"{source}: adapter weight '{name}' has shape [{string.Join(", ", t.Shape)}] but this model and rank need [{string.Join(", ", parameter.shape)}].");
            using var value = tensor(t.Data, t.Shape);
            parameter.copy_(value);
        }
    }

    /// <summary>
    /// The model's weights under its checkpoint names with every adapter's update added, without changing the model:
    /// what a merged model folder holds. The sums are the same float32 additions <see cref="MergeIntoBase"/> makes.
    /// </summary>
    public IReadOnlyList<NamedTensor> MergedWeights(LlamaForCausalLM model)
    {
        var weights = ModelFolder.ExportWeights(model).ToList();
        if (Merged) return weights;
        var byName = weights.ToDictionary(w => w.Name, StringComparer.Ordinal);
        foreach (var adapter in Modules)
        {
            using var delta = adapter.Delta();
            using var cpu = delta.cpu().contiguous();
            var update = cpu.data<float>().ToArray();
            var target = byName[adapter.ModuleName + ".weight"].Data;
            for (int i = 0; i < update.Length; i++) target[i] += update[i];
        }
        return weights;
    }

    /// <summary>Adds the adapters into the base weights in place and removes them from the forward pass.</summary>
    public void MergeIntoBase()
    {
        if (Merged) return;
        foreach (var adapter in Modules) adapter.MergeIntoTargets();
        Merged = true;
    }

    /// <summary>
    /// Writes adapter_config.json and adapter_model.safetensors as PEFT does, so the adapter loads with
    /// <c>PeftModel.from_pretrained(base, folder)</c> on the original base model.
    /// </summary>
    /// <param name="modulesToSave">Parameters trained in full beside the adapters (a classifier's head), saved whole as PEFT's modules_to_save.</param>
    public void SavePeft(string folder, string baseModelNameOrPath, string taskType = "CAUSAL_LM", IReadOnlyList<(string name, Parameter parameter)>? modulesToSave = null)
    {
        Directory.CreateDirectory(folder);
        var whole = (modulesToSave ?? []).Select(p => NamedTensors.Of(p.name, p.parameter));
        SafetensorsFile.Write(Path.Combine(folder, AdapterWeightsFile),
            Tensors().Concat(whole).Select(t => t with { Name = PeftKeyPrefix + t.Name }), new Dictionary<string, string> { ["format"] = "pt" });
        var saved = (modulesToSave ?? []).Select(p => p.name[..p.name.LastIndexOf('.')]).Distinct().Select(m => (JsonNode)m).ToArray();
        var targets = Config.TargetsFor(_modelConfig.Family);
        var json = new JsonObject
        {
            ["base_model_name_or_path"] = baseModelNameOrPath,
            ["peft_type"] = "LORA",
            ["task_type"] = taskType,
            ["r"] = Config.Rank,
            ["lora_alpha"] = Config.Alpha,
            ["lora_dropout"] = Config.Dropout,
            ["target_modules"] = new JsonArray(targets.Select(t => (JsonNode)t).ToArray()),
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["inference_mode"] = true,
            ["init_lora_weights"] = true,
            ["use_rslora"] = false,
            ["modules_to_save"] = saved.Length == 0 ? null : new JsonArray(saved),
        };
        AtomicFile.WriteAllText(Path.Combine(folder, AdapterConfigFile), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Reads the LoRA settings of a PEFT adapter folder (rank, alpha, dropout, targets).</summary>
    public static LoraConfig ReadPeftConfig(string folder)
    {
        var path = Path.Combine(folder, AdapterConfigFile);
        if (!File.Exists(path)) throw new EngineException($"{folder} has no {AdapterConfigFile}: it is not a PEFT adapter folder.");
        JsonNode? node;
        try { node = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidModelFileException($"{AdapterConfigFile} in {folder} is damaged ({e.Message}).", e); }
        if (node?["peft_type"]?.GetValue<string>() != "LORA") throw new UnsupportedModelException($"The adapter in {folder} is not a LoRA adapter (peft_type is not \"LORA\").");
        return new LoraConfig
        {
            Rank = node["r"]?.GetValue<int>() ?? LoraConfig.DefaultRank,
            Alpha = node["lora_alpha"]?.GetValue<double>() ?? LoraConfig.DefaultAlpha,
            Dropout = node["lora_dropout"]?.GetValue<double>() ?? 0,
            TargetModules = node["target_modules"] is JsonArray a ? a.Select(t => t!.GetValue<string>()).ToList() : null,
        };
    }

    /// <summary>Attaches a saved PEFT adapter (as <see cref="SavePeft"/> writes it) to a loaded base model.</summary>
    public static LoraAdapters LoadPeft(LlamaForCausalLM model, string folder)
    {
        var adapters = Inject(model, ReadPeftConfig(folder));
        var tensors = SafetensorsFile.Read(Path.Combine(folder, AdapterWeightsFile))
            .Where(t => t.Key.StartsWith(PeftKeyPrefix, StringComparison.Ordinal))
            .ToDictionary(t => t.Key[PeftKeyPrefix.Length..], t => t.Value, StringComparer.Ordinal);
        adapters.Load(tensors, AdapterWeightsFile);
        return adapters;
    }

    public void Dispose()
    {
        foreach (var m in Modules)
        {
            m.Detach();
            m.Dispose();
        }
    }
}
