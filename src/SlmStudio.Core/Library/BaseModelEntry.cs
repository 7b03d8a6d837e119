using System.Text.Json;
using System.Text.Json.Serialization;

namespace SlmStudio.Core.Library;

/// <summary>
/// What the library knows about one imported base model, written as <see cref="BaseModelLibrary.EntryFile"/> inside
/// the model's folder (so the folder itself stays a plain Hugging Face folder that other tools can read).
/// </summary>
public sealed record BaseModelEntry
{
    /// <summary>The library name, which is also the folder name under the library folder.</summary>
    public required string Name { get; init; }
    /// <summary>Hugging Face class name, e.g. <c>Qwen2ForCausalLM</c>.</summary>
    public required string Architecture { get; init; }
    /// <summary>config.json's <c>model_type</c>, e.g. <c>qwen2</c>.</summary>
    public required string ModelType { get; init; }
    public required long ParameterCount { get; init; }
    /// <summary>Longest text the model was built for, in tokens (<c>max_position_embeddings</c>).</summary>
    public required int ContextLength { get; init; }
    public required int VocabularySize { get; init; }
    /// <summary>The storage type of the weights as published (F32, F16 or BF16); training loads them as float32.</summary>
    public required string WeightsType { get; init; }
    /// <summary>The licence from the model card's front matter (<c>license:</c>), or null when the folder has none.</summary>
    public string? Licence { get; init; }
    /// <summary>Bytes of every file in the model folder.</summary>
    public required long DiskBytes { get; init; }
    /// <summary>SHA-256 of the weights: of model.safetensors, or of the shards' bytes one after another in the order
    /// the index lists them (sorted by name), so a single-file checkpoint's value is what <c>sha256sum</c> prints.</summary>
    public required string WeightsSha256 { get; init; }
    public required IReadOnlyList<string> WeightFiles { get; init; }
    /// <summary>True when tokenizer_config.json carries a <c>chat_template</c>.</summary>
    public bool HasChatTemplate { get; init; }
    /// <summary>The chat format SLM Studio recognised in that template (ChatMl, Llama3, MistralInst, Phi3), or null
    /// when there is no template or it is one SLM Studio cannot render (the model can still be fine-tuned on plain text).</summary>
    public string? ChatFormat { get; init; }
    /// <summary>The folder or zip file it was imported from, for the record.</summary>
    public string? Source { get; init; }
    public DateTimeOffset ImportedAt { get; init; }

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

/// <summary>A folder under the library path that is not (or no longer) a usable base model, and why.</summary>
public sealed record BaseModelProblem(string Name, string Folder, string Reason);
