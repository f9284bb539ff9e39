package chat.testsupport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.ClasspathNode;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.transport.netty4.Netty4Plugin;

/**
 * A real single-node Elasticsearch 8 server inside this JVM, for tests.
 *
 * <p>Maven Central publishes the server and its Netty HTTP/transport module, not a distribution;
 * the node is built from those by {@link ClasspathNode}, plus two small plugins of ours standing in
 * for modules that are not published: the {@code ngram} tokenizer ({@link NGramTokenizerPlugin},
 * over Lucene's own tokenizer) and {@code GET /} ({@link RootInfoPlugin}). Security is not
 * installed (the x-pack modules are not on the classpath). Everything lives in a fresh folder that
 * is removed on exit.
 *
 * <p>Usage: {@code ElasticsearchNode [httpPort [transportPort]]}; the parent of the throwaway
 * folder comes from the system property {@code chat.elasticsearch.dir} (default: the temp dir).
 */
public final class ElasticsearchNode {

    private static final int DEFAULT_HTTP_PORT = 39201;
    private static final int DEFAULT_TRANSPORT_PORT = 39301;

    private ElasticsearchNode() {}

    public static void main(String[] args) throws Exception {
        int httpPort = port(args, 0, DEFAULT_HTTP_PORT);
        int transportPort = port(args, 1, DEFAULT_TRANSPORT_PORT);
        Path parent = Paths.get(System.getProperty("chat.elasticsearch.dir", System.getProperty("java.io.tmpdir")));
        Files.createDirectories(parent);
        Path home = Files.createTempDirectory(parent, "elasticsearch-node-");

        // The server logs through its own logging API; bind it to log4j before anything logs.
        LogConfigurator.configureESLogging();

        Settings settings = Settings.builder()
            .put("cluster.name", "chat-test-es")
            .put("node.name", "chat-test-es-node")
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("network.host", "127.0.0.1")
            .put("http.port", httpPort)
            .put("transport.port", transportPort)
            .put("discovery.type", "single-node")
            // Test machines often have nearly full disks; never block writes on watermarks.
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .build();
        Environment environment = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), null, () -> "node");

        Node node = ClasspathNode.create(
            environment,
            List.of(Netty4Plugin.class, NGramTokenizerPlugin.class, RootInfoPlugin.class),
            true);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(30, TimeUnit.SECONDS);
            } catch (IOException | InterruptedException e) {
                e.printStackTrace();
            } finally {
                deleteRecursively(home);
                stopped.countDown();
            }
        }, "elasticsearch-node-shutdown"));

        try {
            node.start();
        } catch (Exception e) {
            e.printStackTrace();
            // The shutdown hook closes the node and removes its folder.
            System.exit(1);
        }
        System.out.println("Elasticsearch node started: http://127.0.0.1:" + httpPort + " (home " + home + ")");
        System.out.flush();
        stopped.await();
    }

    private static int port(String[] args, int index, int fallback) {
        String value = args.length > index ? args[index] : null;
        return value == null || value.isBlank() ? fallback : Integer.parseInt(value.trim());
    }

    private static void deleteRecursively(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | UncheckedIOException e) {
            System.err.println("could not remove " + root + ": " + e);
        }
    }
}
