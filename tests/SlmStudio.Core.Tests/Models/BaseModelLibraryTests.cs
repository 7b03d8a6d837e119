using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using SlmStudio.Core.Library;
using SlmStudio.Core.Models;

namespace SlmStudio.Core.Tests.Models;

/// <summary>Importing Hugging Face folders and zips into the base model library: what is kept, what is refused, and
/// that a refused import leaves nothing behind.</summary>
public sealed class BaseModelLibraryTests : IDisposable
{
    private readonly string _root = TestPaths.NewTempDir("slm-library");
    private string LibraryPath => Path.Combine(_root, "library");

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { } // best effort
    }

    private BaseModelLibrary NewLibrary(long? maxUncompressed = null) =>
        maxUncompressed is { } max ? new BaseModelLibrary(LibraryPath) { MaxUncompressedBytes = max } : new BaseModelLibrary(LibraryPath);

    private string CopyFixture(string fixture, string? folderName = null)
    {
        var target = Path.Combine(_root, "sources", folderName ?? fixture);
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(Path.Combine(TestPaths.Fixtures, fixture)))
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        return target;
    }

    /// <summary>The library holds only finished models: no staging folder, no other leftovers.</summary>
    private void AssertLibraryHoldsOnly(params string[] names)
    {
        var folders = Directory.Exists(LibraryPath) ? Directory.GetDirectories(LibraryPath).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray() : [];
        Assert.Equal(names.Order(StringComparer.Ordinal).ToArray(), folders);
    }

    [Theory]
    [InlineData("tiny-llama-hf", "LlamaForCausalLM", "llama")]
    [InlineData("tiny-qwen2-hf", "Qwen2ForCausalLM", "qwen2")]
    [InlineData("tiny-mistral-hf", "MistralForCausalLM", "mistral")]
    [InlineData("tiny-phi3-hf", "Phi3ForCausalLM", "phi3")]
    [InlineData("tiny-phi2-hf", "PhiForCausalLM", "phi")]
    public void ImportsEachFixtureFolderAndDescribesIt(string fixture, string architecture, string modelType)
    {
        var library = NewLibrary();
        var source = Path.Combine(TestPaths.Fixtures, fixture);
        var entry = library.Import(source);

        Assert.Equal(fixture, entry.Name);
        Assert.Equal(architecture, entry.Architecture);
        Assert.Equal(modelType, entry.ModelType);
        var config = LlamaConfig.Load(Path.Combine(source, "config.json"));
        Assert.Equal(config.ParameterCount, entry.ParameterCount);
        Assert.Equal(128, entry.ContextLength);
        Assert.Equal(323, entry.VocabularySize);
        Assert.Equal("F32", entry.WeightsType);
        Assert.Null(entry.Licence);
        Assert.False(entry.HasChatTemplate);
        Assert.Null(entry.ChatFormat);
        Assert.Equal(["model.safetensors"], entry.WeightFiles);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(source, "model.safetensors")))), entry.WeightsSha256);
        // expected.json is a test file, not part of a model: it is not copied.
        var copied = Directory.GetFiles(library.PathOf(entry.Name)).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(new[] { "config.json", "model.safetensors", BaseModelLibrary.EntryFile, "tokenizer.json", "tokenizer_config.json" }.Order(StringComparer.Ordinal).ToArray(), copied);
        Assert.Equal(new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json" }.Sum(f => new FileInfo(Path.Combine(source, f)).Length), entry.DiskBytes);

        Assert.Equal(entry, Assert.IsType<BaseModelEntry>(library.Get(fixture)) with { WeightFiles = entry.WeightFiles });
        Assert.Equal([fixture], library.List().Select(e => e.Name));
        var (model, loaded) = ModelFolder.Load(library.PathOf(fixture));
        model.Dispose();
        Assert.Equal(config.ArchitectureName, loaded.ArchitectureName);
        AssertLibraryHoldsOnly(fixture);
    }

    [Fact]
    public void ImportsAZipWithItsTopLevelFolderAndReadsTheLicenceFromTheModelCard()
    {
        var source = CopyFixture("tiny-qwen2-hf", "my-qwen");
        File.WriteAllText(Path.Combine(source, "README.md"), "---\nlanguage:\n- en\nlicense: \"apache-2.0\"\ntags:\n  - license: not-this-one\n---\n# My Qwen\n");
        var tokenizerConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "tokenizer_config.json")))!.AsObject();
        tokenizerConfig["chat_template"] = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";
        File.WriteAllText(Path.Combine(source, "tokenizer_config.json"), tokenizerConfig.ToJsonString());
        var zip = Path.Combine(_root, "upload.zip");
        ZipFile.CreateFromDirectory(source, zip, CompressionLevel.Fastest, includeBaseDirectory: true);

        var entry = NewLibrary().Import(zip, "qwen-from-zip");
        Assert.Equal("qwen-from-zip", entry.Name);
        Assert.Equal("Qwen2ForCausalLM", entry.Architecture);
        Assert.Equal("apache-2.0", entry.Licence);
        Assert.True(entry.HasChatTemplate);
        Assert.Equal("ChatMl", entry.ChatFormat);
        Assert.True(File.Exists(Path.Combine(LibraryPath, "qwen-from-zip", "README.md")));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(source, "model.safetensors")))), entry.WeightsSha256);
        AssertLibraryHoldsOnly("qwen-from-zip");
    }

    [Fact]
    public void ImportsAShardedBfloat16CheckpointAndHashesTheShardsInOrder()
    {
        var source = Path.Combine(_root, "sources", "sharded");
        Directory.CreateDirectory(source);
        foreach (var f in new[] { "config.json", "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(TestPaths.Fixtures, "tiny-mistral-hf", f), Path.Combine(source, f));
        var tensors = SafetensorsFile.Read(Path.Combine(TestPaths.Fixtures, "tiny-mistral-hf", "model.safetensors"));
        var names = new[] { "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors" };
        var ordered = tensors.Values.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        var map = new JsonObject();
        for (int k = 0; k < 2; k++)
        {
            var part = ordered.Where((_, i) => i % 2 == k).ToList();
            ArchitectureConformanceTests.WriteSafetensors(Path.Combine(source, names[k]), part, "BF16");
            foreach (var t in part) map[t.Name] = names[k];
        }
        File.WriteAllText(Path.Combine(source, ModelFolder.WeightsIndexFile), new JsonObject { ["weight_map"] = map }.ToJsonString());

        var entry = NewLibrary().Import(source);
        Assert.Equal("BF16", entry.WeightsType);
        Assert.Equal(names, entry.WeightFiles);
        var both = names.SelectMany(n => File.ReadAllBytes(Path.Combine(source, n))).ToArray();
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(both)), entry.WeightsSha256);
        Assert.True(File.Exists(Path.Combine(LibraryPath, "sharded", ModelFolder.WeightsIndexFile)));

        // The same checkpoint with one shard gone is refused by name, and nothing is added.
        var broken = Path.Combine(_root, "sources", "broken");
        Directory.CreateDirectory(broken);
        foreach (var f in Directory.GetFiles(source).Where(f => !f.EndsWith(names[1], StringComparison.Ordinal)))
            File.Copy(f, Path.Combine(broken, Path.GetFileName(f)));
        var e = Assert.ThrowsAny<EngineException>(() => NewLibrary().Import(broken));
        Assert.Contains(names[1], e.Message);
        Assert.Contains("missing", e.Message);
        AssertLibraryHoldsOnly("sharded");
    }

    [Fact]
    public void ARefusedArchitectureIsNamedAndLeavesNothingBehind()
    {
        var source = CopyFixture("tiny-llama-hf", "gpt2-model");
        var configPath = Path.Combine(source, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["model_type"] = "gpt2";
        config["architectures"] = new JsonArray("GPT2LMHeadModel");
        File.WriteAllText(configPath, config.ToJsonString());

        var e = Assert.ThrowsAny<EngineException>(() => NewLibrary().Import(source));
        Assert.Contains("'gpt2' is not supported", e.Message);
        AssertLibraryHoldsOnly();

        // In a zip the check runs after unpacking: the staging folder must go too.
        var zip = Path.Combine(_root, "gpt2.zip");
        ZipFile.CreateFromDirectory(source, zip);
        Assert.Contains("'gpt2' is not supported", Assert.ThrowsAny<EngineException>(() => NewLibrary().Import(zip)).Message);
        AssertLibraryHoldsOnly();
    }

    [Fact]
    public void AWeightThatDoesNotMatchTheConfigIsRefusedAfterCopyingAndNothingIsLeft()
    {
        var source = CopyFixture("tiny-phi3-hf");
        var configPath = Path.Combine(source, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["intermediate_size"] = 64;
        File.WriteAllText(configPath, config.ToJsonString());
        var e = Assert.ThrowsAny<EngineException>(() => NewLibrary().Import(source));
        Assert.Contains("gate_up_proj", e.Message);
        AssertLibraryHoldsOnly();
    }

    [Fact]
    public void ANameClashIsRefusedWithAClearMessage()
    {
        var library = NewLibrary();
        library.Import(Path.Combine(TestPaths.Fixtures, "tiny-llama-hf"), "base");
        var before = File.ReadAllText(Path.Combine(LibraryPath, "base", BaseModelLibrary.EntryFile));
        var e = Assert.ThrowsAny<EngineException>(() => library.Import(Path.Combine(TestPaths.Fixtures, "tiny-qwen2-hf"), "base"));
        Assert.Contains("A base model named 'base' is already in the library", e.Message);
        Assert.Contains("--name", e.Message);
        Assert.Equal(before, File.ReadAllText(Path.Combine(LibraryPath, "base", BaseModelLibrary.EntryFile)));
        Assert.Equal("LlamaForCausalLM", library.Get("base")!.Architecture);
        Assert.Contains("cannot be a base model name", Assert.ThrowsAny<EngineException>(() => library.Import(Path.Combine(TestPaths.Fixtures, "tiny-qwen2-hf"), "../escape")).Message);
        AssertLibraryHoldsOnly("base");
    }

    [Fact]
    public void AZipWithAPathOutsideTheFolderIsRefused()
    {
        var zip = Path.Combine(_root, "slip.zip");
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Create))
        {
            foreach (var f in Directory.GetFiles(Path.Combine(TestPaths.Fixtures, "tiny-llama-hf")))
                archive.CreateEntryFromFile(f, Path.GetFileName(f));
            using var writer = new StreamWriter(archive.CreateEntry("../../outside.txt").Open());
            writer.Write("should never be written");
        }
        var e = Assert.ThrowsAny<EngineException>(() => NewLibrary().Import(zip, "slip"));
        Assert.Contains("outside the folder", e.Message);
        Assert.False(File.Exists(Path.Combine(_root, "outside.txt")));
        Assert.False(File.Exists(Path.Combine(LibraryPath, "..", "outside.txt")));
        AssertLibraryHoldsOnly();
    }

    [Fact]
    public void AZipThatUnpacksToMoreThanTheLimitIsRefused()
    {
        var zip = Path.Combine(_root, "big.zip");
        ZipFile.CreateFromDirectory(Path.Combine(TestPaths.Fixtures, "tiny-llama-hf"), zip);
        var weights = new FileInfo(Path.Combine(TestPaths.Fixtures, "tiny-llama-hf", "model.safetensors")).Length;
        var e = Assert.ThrowsAny<EngineException>(() => NewLibrary(maxUncompressed: weights / 2).Import(zip));
        Assert.Contains("unpacks to more than", e.Message);
        AssertLibraryHoldsOnly();
    }

    [Fact]
    public void ScanDescribesFoldersPlacedByHandAndReportsUnusableOnes()
    {
        Directory.CreateDirectory(LibraryPath);
        var placed = Path.Combine(LibraryPath, "placed-phi2");
        Directory.CreateDirectory(placed);
        foreach (var f in new[] { "config.json", "model.safetensors", "tokenizer.json" })
            File.Copy(Path.Combine(TestPaths.Fixtures, "tiny-phi2-hf", f), Path.Combine(placed, f));
        var noTokenizer = Path.Combine(LibraryPath, "no-tokenizer");
        Directory.CreateDirectory(noTokenizer);
        foreach (var f in new[] { "config.json", "model.safetensors" })
            File.Copy(Path.Combine(TestPaths.Fixtures, "tiny-phi2-hf", f), Path.Combine(noTokenizer, f));

        var library = NewLibrary();
        var problem = Assert.Single(library.Scan());
        Assert.Equal("no-tokenizer", problem.Name);
        Assert.Contains("tokenizer.json", problem.Reason);
        Assert.Equal(["placed-phi2"], library.List().Select(e => e.Name));
        Assert.Equal("PhiForCausalLM", library.Get("placed-phi2")!.Architecture);
        // Folders placed by hand are never removed, even unusable ones.
        AssertLibraryHoldsOnly("no-tokenizer", "placed-phi2");
    }
}
