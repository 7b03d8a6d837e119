using SlmStudio.Core.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SlmStudio.Core.Models;

/// <summary>
/// A Hugging Face model folder: config.json, model.safetensors and (usually) tokenizer.json. Our trained models are
/// saved this way and Llama-family folders made elsewhere load through the same code.
/// </summary>
public static class ModelFolder
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";
    public const string TokenizerFile = "tokenizer.json";

    public static (LlamaForCausalLM Model, LlamaConfig Config) Load(string folder, Device? device = null)
    {
        if (!Directory.Exists(folder)) throw new EngineException($"The model folder {folder} does not exist.");
        var config = LlamaConfig.Load(Path.Combine(folder, ConfigFile));
        var weightsPath = Path.Combine(folder, WeightsFile);
        if (!File.Exists(weightsPath))
        {
            var hint = Directory.EnumerateFiles(folder, "*.safetensors.index.json").Any() ? " Sharded checkpoints (model-00001-of-N.safetensors) are not supported yet; merge them into one model.safetensors." :
                       File.Exists(Path.Combine(folder, "pytorch_model.bin")) ? " Only safetensors weights are supported; convert pytorch_model.bin to model.safetensors." : "";
            throw new UnsupportedModelException($"The model folder {folder} has no {WeightsFile}.{hint}");
        }
        var model = new LlamaForCausalLM(config);
        LoadWeights(model, SafetensorsFile.Read(weightsPath), Path.GetFileName(weightsPath));
        if (device is not null && device.type != DeviceType.CPU) model.to(device);
        model.eval();
        return (model, config);
    }

    /// <summary>Copies named tensors into the model, refusing missing, unknown or wrongly shaped weights by name.</summary>
    public static void LoadWeights(LlamaForCausalLM model, IReadOnlyDictionary<string, NamedTensor> tensors, string source)
    {
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var missing = parameters.Keys.Where(k => !tensors.ContainsKey(k)).ToList();
        if (missing.Count > 0)
            throw new UnsupportedModelException($"{source} does not match config.json: {missing.Count} weight(s) missing, e.g. '{missing[0]}'.");
        using var _ = no_grad();
        foreach (var (name, p) in parameters)
        {
            var t = tensors[name];
            if (!t.Shape.SequenceEqual(p.shape))
                throw new UnsupportedModelException($"{source}: weight '{name}' has shape [{string.Join(", ", t.Shape)}] but config.json implies [{string.Join(", ", p.shape)}].");
            using var source32 = tensor(t.Data, t.Shape);
            p.copy_(source32);
        }
        // Tied checkpoints may still carry lm_head.weight (a copy of the embedding); anything else is a different architecture.
        var unexpected = tensors.Keys.Where(k => !parameters.ContainsKey(k) && k != "lm_head.weight" && !k.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal)).ToList();
        if (unexpected.Count > 0)
            throw new UnsupportedModelException($"{source} holds {unexpected.Count} weight(s) this Llama implementation does not use, e.g. '{unexpected[0]}': the architecture is not supported.");
    }

    public static IEnumerable<NamedTensor> ExportWeights(LlamaForCausalLM model) =>
        model.named_parameters().Select(p =>
        {
            using var cpu = p.parameter.detach().cpu().contiguous();
            return new NamedTensor(p.name, p.parameter.shape, cpu.data<float>().ToArray());
        }).ToList();

    /// <summary>Writes config.json, model.safetensors and tokenizer.json (each atomically).</summary>
    public static void Save(LlamaForCausalLM model, ITokenizer? tokenizer, string folder)
    {
        Directory.CreateDirectory(folder);
        SafetensorsFile.Write(Path.Combine(folder, WeightsFile), ExportWeights(model), new Dictionary<string, string> { ["format"] = "pt" });
        model.Config.Save(Path.Combine(folder, ConfigFile));
        tokenizer?.Save(Path.Combine(folder, TokenizerFile));
    }
}
