using System.Text.Json;
using System.Text.Json.Serialization;
using SlmStudio.Core.Models;

namespace SlmStudio.Core.Library;

/// <summary>
/// The base model a fine-tuned model started from: its name (the library name, else the folder's name) and the
/// SHA-256 of its weights as <see cref="BaseModelEntry.WeightsSha256"/> defines it, so anyone can check which exact
/// base an adapter or a registry version belongs to. Recorded in the run folder when training starts (the base folder
/// may be gone by the time the model is exported) and copied into the exported manifest and model card.
/// </summary>
public sealed record BaseModelLineage(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("weightsSha256")] string WeightsSha256,
    [property: JsonPropertyName("architecture")] string? Architecture = null)
{
    public const string FileName = "base-model.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Describes a base model folder; a library entry's recorded hash is used instead of reading the weights again.</summary>
    public static BaseModelLineage Of(string baseFolder, CancellationToken ct = default)
    {
        var folder = Path.TrimEndingDirectorySeparator(Path.GetFullPath(baseFolder));
        var entryFile = Path.Combine(folder, BaseModelLibrary.EntryFile);
        if (File.Exists(entryFile))
        {
            try
            {
                if (JsonSerializer.Deserialize<BaseModelEntry>(File.ReadAllText(entryFile), BaseModelEntry.Json) is { WeightsSha256.Length: 64 } entry)
                    return new BaseModelLineage(entry.Name, entry.WeightsSha256, entry.Architecture);
            }
            catch (JsonException) { } // a damaged entry: the weights are hashed below instead
        }
        var architecture = File.Exists(Path.Combine(folder, ModelFolder.ConfigFile)) ? LlamaConfig.Load(Path.Combine(folder, ModelFolder.ConfigFile)).ArchitectureName : null;
        return new BaseModelLineage(Path.GetFileName(folder), BaseModelLibrary.HashOneAfterAnother(ModelFolder.WeightFiles(folder), ct), architecture);
    }

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json));

    /// <summary>The lineage saved at <paramref name="path"/>; null when there is none or it cannot be read.</summary>
    public static BaseModelLineage? Read(string path)
    {
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<BaseModelLineage>(File.ReadAllText(path)); }
        catch (JsonException) { return null; }
    }
}
