using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Library;

/// <summary>
/// The base models a company can fine-tune: one Hugging Face folder per model under the library folder
/// (<c>Studio:BaseModelsPath</c>, default <c>models/base/</c>), each with an <see cref="EntryFile"/> describing it.
/// An import copies the files a model needs into a hidden staging folder beside the library's models, checks them
/// with the same loader that training uses, and only then renames the staging folder to the model's name: a failed
/// or cancelled import leaves nothing behind, and a model folder either is complete or does not exist.
/// </summary>
public sealed class BaseModelLibrary
{
    /// <summary>The description written into each model folder.</summary>
    public const string EntryFile = "slm-base-model.json";
    public const string DefaultFolder = "models/base";
    private const string StagingPrefix = ".importing-";
    private const int MaxNameLength = 80;

    /// <summary>Files of a Hugging Face folder that a base model uses; everything else (e.g. the original PyTorch
    /// weights some repositories also carry, often as large as the model) is left out of the library.</summary>
    private static readonly string[] KnownFiles =
    [
        ModelFolder.ConfigFile, ModelFolder.WeightsIndexFile, ModelFolder.TokenizerFile, "tokenizer_config.json",
        "generation_config.json", "special_tokens_map.json", "README.md", "LICENSE", "LICENSE.txt", "LICENSE.md",
    ];

    private readonly TimeProvider _time;

    public BaseModelLibrary(string folder, TimeProvider? time = null)
    {
        Folder = Path.GetFullPath(folder);
        _time = time ?? TimeProvider.System;
    }

    public string Folder { get; }

    /// <summary>Largest total a zip may unpack to (bytes); a zip that claims or turns out to hold more is refused.</summary>
    public long MaxUncompressedBytes { get; init; } = 64L << 30;

    /// <summary>Every imported model, by name.</summary>
    public IReadOnlyList<BaseModelEntry> List() =>
        !Directory.Exists(Folder) ? [] : ModelFolders().Select(ReadEntry).OfType<BaseModelEntry>().OrderBy(e => e.Name, StringComparer.OrdinalIgnoreCase).ToList();

    /// <summary>The model called <paramref name="name"/>, or null when the library has none.</summary>
    public BaseModelEntry? Get(string name) =>
        IsValidName(name) && Directory.Exists(PathOf(name)) ? ReadEntry(PathOf(name)) : null;

    /// <summary>
    /// The model folder that <paramref name="folderOrName"/> means: an existing folder as it is, otherwise the library
    /// model of that name. Throws, saying what to do, when it is neither.
    /// </summary>
    public string ResolveFolder(string folderOrName)
    {
        if (Directory.Exists(folderOrName)) return folderOrName;
        if (Get(folderOrName) is not null) return PathOf(folderOrName);
        var names = List().Select(e => e.Name).ToList();
        throw new EngineException($"'{folderOrName}' is neither a model folder nor a base model in the library ({Folder}). " +
            (names.Count == 0 ? "The library is empty: add the model with 'slm import <folder or zip>' first." : $"The library has: {string.Join(", ", names)}."));
    }

    /// <summary>The folder that holds model <paramref name="name"/> (for loading it).</summary>
    public string PathOf(string name) => Path.Combine(Folder, name);

    /// <summary>
    /// Describes folders that an administrator placed under the library folder by hand (they have no entry file yet),
    /// checking them as an import would; returns the folders that cannot be used, and why. Folders are never moved or
    /// deleted here: they belong to whoever put them there.
    /// </summary>
    public IReadOnlyList<BaseModelProblem> Scan(CancellationToken ct = default)
    {
        var problems = new List<BaseModelProblem>();
        if (!Directory.Exists(Folder)) return problems;
        foreach (var folder in ModelFolders())
        {
            ct.ThrowIfCancellationRequested();
            if (File.Exists(Path.Combine(folder, EntryFile))) continue;
            var name = Path.GetFileName(folder);
            try
            {
                CheckName(name);
                var entry = Describe(folder, name, source: folder, ct);
                WriteEntry(folder, entry);
            }
            catch (EngineException e)
            {
                problems.Add(new BaseModelProblem(name, folder, e.Message));
            }
        }
        return problems;
    }

    /// <summary>
    /// Adds the Hugging Face model folder or zip at <paramref name="source"/> under <paramref name="name"/> (default:
    /// the folder's or zip's own name). Refuses, naming the problem, an unsupported architecture or feature, missing
    /// or damaged weights, a missing tokenizer.json, an unsafe or oversized zip, and a name already in use.
    /// </summary>
    public BaseModelEntry Import(string source, string? name = null, IProgress<string>? progress = null, CancellationToken ct = default)
    {
        var fullSource = Path.GetFullPath(source);
        bool isZip = File.Exists(fullSource);
        if (!isZip && !Directory.Exists(fullSource))
            throw new EngineException($"{source} does not exist. Give a Hugging Face model folder or a zip of one.");
        if (isZip && !fullSource.EndsWith(".zip", StringComparison.OrdinalIgnoreCase))
            throw new EngineException($"{source} is a file but not a .zip. Give a Hugging Face model folder or a zip of one.");
        name ??= DefaultName(fullSource, isZip);
        CheckName(name);
        CheckNameFree(name);

        if (!isZip)
        {
            // Refuse an unsupported model before copying gigabytes of weights.
            LlamaConfig.Load(Path.Combine(fullSource, ModelFolder.ConfigFile));
            ModelFolder.WeightFiles(fullSource);
        }

        Directory.CreateDirectory(Folder);
        var staging = Path.Combine(Folder, StagingPrefix + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(staging);
        try
        {
            progress?.Report(isZip ? $"Unpacking {Path.GetFileName(fullSource)}…" : $"Copying {fullSource}…");
            if (isZip) Unzip(fullSource, staging, ct);
            else CopyModelFiles(fullSource, staging, ct);
            progress?.Report("Checking the model…");
            var entry = Describe(staging, name, source: fullSource, ct);
            WriteEntry(staging, entry);
            ct.ThrowIfCancellationRequested();
            try
            {
                // The same volume, so this is a rename: the model appears complete or not at all.
                Directory.Move(staging, PathOf(name));
            }
            catch (IOException) when (Directory.Exists(PathOf(name)))
            {
                throw NameTaken(name);
            }
            progress?.Report($"Imported '{name}'.");
            return entry;
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>Reads and checks every part of the model folder and describes it; throws <see cref="EngineException"/> naming what is wrong.</summary>
    private BaseModelEntry Describe(string folder, string name, string source, CancellationToken ct)
    {
        var config = LlamaConfig.Load(Path.Combine(folder, ModelFolder.ConfigFile));
        var weightFiles = ModelFolder.WeightFiles(folder);
        var headers = weightFiles.Select(SafetensorsFile.ReadHeader).ToList();
        var types = headers.SelectMany(h => h.Entries).Select(e => e.DType).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var unsupportedType = types.FirstOrDefault(t => t is not ("F32" or "F16" or "BF16"));
        if (unsupportedType is not null)
            throw new UnsupportedModelException($"The weights are stored as {unsupportedType}, which is not supported: only float32, float16 and bfloat16 checkpoints can be imported.");
        ct.ThrowIfCancellationRequested();

        // Loading once checks every tensor's name and shape against config.json and that the data is all there.
        var (model, _) = ModelFolder.Load(folder);
        model.Dispose();
        ct.ThrowIfCancellationRequested();

        var tokenizer = TokenizerFile.Load(Path.Combine(folder, ModelFolder.TokenizerFile));
        if (tokenizer.VocabSize > config.VocabSize)
            throw new UnsupportedModelException($"tokenizer.json has {tokenizer.VocabSize} tokens but config.json's vocab_size is {config.VocabSize}: the tokenizer does not belong to this model.");
        var tokenizerConfig = ReadOptionalJson(folder, "tokenizer_config.json");
        ReadOptionalJson(folder, "generation_config.json");

        return new BaseModelEntry
        {
            Name = name,
            Architecture = config.ArchitectureName,
            ModelType = config.ModelType,
            ParameterCount = config.ParameterCount,
            ContextLength = config.MaxPositions,
            VocabularySize = config.VocabSize,
            WeightsType = string.Join("+", types),
            Licence = ReadLicence(folder),
            DiskBytes = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Where(f => Path.GetFileName(f) != EntryFile).Sum(f => new FileInfo(f).Length),
            WeightsSha256 = HashOneAfterAnother(weightFiles, ct),
            WeightFiles = weightFiles.Select(Path.GetFileName).ToList()!,
            HasChatTemplate = tokenizerConfig?["chat_template"] is not null,
            ChatFormat = RecognisedChatFormat(tokenizerConfig),
            Source = source,
            ImportedAt = _time.GetUtcNow(),
        };
    }

    private static string? RecognisedChatFormat(JsonObject? tokenizerConfig)
    {
        if (tokenizerConfig is null) return null;
        try { return ChatTemplate.FromTokenizerConfig(tokenizerConfig)?.Format.ToString(); }
        catch (UnsupportedModelException) { return null; }
    }

    private static JsonObject? ReadOptionalJson(string folder, string file)
    {
        var path = Path.Combine(folder, file);
        if (!File.Exists(path)) return null;
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new UnsupportedModelException($"{file} is not a JSON object; fix or remove it and import again.");
        }
        catch (JsonException e)
        {
            throw new UnsupportedModelException($"{file} is not valid JSON ({e.Message}); fix or remove it and import again.", e);
        }
    }

    /// <summary>The <c>license:</c> value of README.md's YAML front matter (the Hugging Face model card header); for
    /// <c>other</c>, the <c>license_name:</c> when given.</summary>
    public static string? ReadLicence(string folder)
    {
        var readme = Path.Combine(folder, "README.md");
        if (!File.Exists(readme)) return null;
        using var reader = new StreamReader(readme);
        if (reader.ReadLine()?.Trim() != "---") return null;
        string? licence = null, licenceName = null;
        for (var line = reader.ReadLine(); line is not null && line.Trim() != "---"; line = reader.ReadLine())
        {
            // Only top-level keys: nested ones are indented.
            if (line.StartsWith("license:", StringComparison.Ordinal)) licence = YamlScalar(line["license:".Length..]);
            else if (line.StartsWith("license_name:", StringComparison.Ordinal)) licenceName = YamlScalar(line["license_name:".Length..]);
        }
        return licence == "other" && licenceName is not null ? licenceName : licence;
    }

    private static string? YamlScalar(string value)
    {
        value = value.Trim();
        if (value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[^1] == value[0]) value = value[1..^1];
        return value.Length == 0 ? null : value;
    }

    internal static string HashOneAfterAnother(IEnumerable<string> files, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        foreach (var file in files)
        {
            using var stream = File.OpenRead(file);
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                ct.ThrowIfCancellationRequested();
                hash.AppendData(buffer, 0, read);
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static bool IsModelFile(string fileName) =>
        KnownFiles.Contains(fileName, StringComparer.Ordinal) || fileName.EndsWith(".safetensors", StringComparison.Ordinal);

    private static void CopyModelFiles(string source, string staging, CancellationToken ct)
    {
        foreach (var file in Directory.EnumerateFiles(source))
        {
            ct.ThrowIfCancellationRequested();
            var fileName = Path.GetFileName(file);
            if (IsModelFile(fileName)) File.Copy(file, Path.Combine(staging, fileName));
        }
    }

    /// <summary>
    /// Unpacks the model files of a zip (at its top level, or inside its one top-level folder, as "compress this
    /// folder" makes it). Only plain file names under that root are written, so no entry can land outside the staging
    /// folder; bytes are counted as they are written, so a zip whose headers understate its size is still stopped.
    /// </summary>
    private void Unzip(string zipPath, string staging, CancellationToken ct)
    {
        ZipArchive archive;
        try { archive = ZipFile.OpenRead(zipPath); }
        catch (InvalidDataException e) { throw new EngineException($"{Path.GetFileName(zipPath)} is not a readable zip file ({e.Message}).", e); }
        using (archive)
        {
            foreach (var entry in archive.Entries)
            {
                var entryName = entry.FullName.Replace('\\', '/');
                if (entryName.StartsWith('/') || entryName.Split('/').Contains("..") || (entryName.Length > 1 && entryName[1] == ':'))
                    throw new EngineException($"{Path.GetFileName(zipPath)} holds the path '{entry.FullName}', which points outside the folder being unpacked; the zip is not safe to import.");
            }
            var configs = archive.Entries.Where(e => Path.GetFileName(e.FullName) == ModelFolder.ConfigFile)
                .Select(e => e.FullName.Replace('\\', '/')).Where(n => n.Count(c => c == '/') <= 1).OrderBy(n => n.Length).ToList();
            if (configs.Count == 0)
                throw new UnsupportedModelException($"{Path.GetFileName(zipPath)} has no config.json at its top level or in its top-level folder: zip the Hugging Face model folder itself.");
            var root = configs[0][..^ModelFolder.ConfigFile.Length];

            long claimed = 0;
            var wanted = new List<ZipArchiveEntry>();
            foreach (var entry in archive.Entries)
            {
                var entryName = entry.FullName.Replace('\\', '/');
                if (!entryName.StartsWith(root, StringComparison.Ordinal)) continue;
                var rest = entryName[root.Length..];
                if (rest.Length == 0 || rest.Contains('/') || !IsModelFile(rest)) continue;
                wanted.Add(entry);
                claimed += entry.Length;
            }
            if (claimed > MaxUncompressedBytes) throw TooBig(zipPath);

            long written = 0;
            var buffer = new byte[1 << 20];
            foreach (var entry in wanted)
            {
                var target = Path.GetFullPath(Path.Combine(staging, entry.Name));
                if (!target.StartsWith(staging + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                    throw new EngineException($"{Path.GetFileName(zipPath)} holds the path '{entry.FullName}', which points outside the folder being unpacked; the zip is not safe to import.");
                using var input = entry.Open();
                using var output = new FileStream(target, FileMode.CreateNew);
                int read;
                while ((read = input.Read(buffer)) > 0)
                {
                    ct.ThrowIfCancellationRequested();
                    written += read;
                    if (written > MaxUncompressedBytes) throw TooBig(zipPath);
                    output.Write(buffer, 0, read);
                }
            }
        }
    }

    private EngineException TooBig(string zipPath) =>
        new($"{Path.GetFileName(zipPath)} unpacks to more than {MaxUncompressedBytes / (1L << 30):N0} GiB, the most a base model may take here; place the folder under the library path instead, or raise the limit.");

    private IEnumerable<string> ModelFolders() =>
        Directory.EnumerateDirectories(Folder).Where(d => !Path.GetFileName(d).StartsWith('.'));

    private static BaseModelEntry? ReadEntry(string folder)
    {
        var path = Path.Combine(folder, EntryFile);
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<BaseModelEntry>(File.ReadAllText(path), BaseModelEntry.Json); }
        catch (JsonException) { return null; }
    }

    private static void WriteEntry(string folder, BaseModelEntry entry) =>
        AtomicFile.WriteAllText(Path.Combine(folder, EntryFile), JsonSerializer.Serialize(entry, BaseModelEntry.Json));

    private static string DefaultName(string source, bool isZip) =>
        isZip ? Path.GetFileNameWithoutExtension(source) : Path.GetFileName(Path.TrimEndingDirectorySeparator(source));

    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= MaxNameLength && !name.StartsWith('.') && !name.EndsWith('.')
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private static void CheckName(string name)
    {
        if (!IsValidName(name))
            throw new EngineException($"'{name}' cannot be a base model name: use up to {MaxNameLength} letters, digits, '-', '_' or '.' (not at the start or end), for example 'qwen2.5-0.5b'.");
    }

    private void CheckNameFree(string name)
    {
        if (Directory.Exists(PathOf(name))) throw NameTaken(name);
    }

    private EngineException NameTaken(string name) =>
        new($"A base model named '{name}' is already in the library ({PathOf(name)}). Choose another name (--name), or remove the existing model first.");
}
