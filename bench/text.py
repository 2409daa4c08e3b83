"""Realistic hardware-chat text: a maker's vocabulary with Zipf-like word frequencies and part numbers.

Deterministic for a seed, and fast enough to write ten million messages
(a few microseconds per message: words are drawn in one ``choices`` call).
"""

from __future__ import annotations

import itertools
import random

# Ordered roughly by how often they occur in hardware conversations; the
# Zipf weights make the first ones common and the tail rare.
COMMON = """
the a to and of i it is for you with on that this in can be use your my if will do have so but
not are pin power need what how should at or from voltage board wire sensor one esp32 connect
code data led when just as up get an 3.3v 5v ground gnd more like also then which value out
resistor current library read make work set using serial i2c time would temperature display
check battery module supply want here first there input output signal all try only these
output high low between each other now two into used add change pull-up capacitor add error
loop setup function return void int float delay while true false print debug upload flash
firmware reset button switch relay motor servo driver pwm analog digital adc dac uart spi
bus address clock speed frequency mhz khz baud rate buffer interrupt timer watchdog sleep
deep mode wake low-power regulator ldo buck boost converter efficiency heat sink thermal
solder joint breadboard jumper header pcb trace via footprint schematic layout net label
enclosure mount screw cable connector jst dupont crimp usb-c micro-usb charger lipo cell
mah capacity protection fuse diode mosfet transistor gate drain source base emitter collector
humidity pressure altitude light lux distance ultrasonic infrared motion pir gas co2 air
quality soil moisture water level flow rain wind speed direction gps location wifi bluetooth
ble mqtt http server client api json payload topic broker dashboard home assistant cloud
weather station greenhouse irrigation robot arm rover drone clock lamp strip neopixel matrix
oled lcd tft e-paper screen touch rotary encoder keypad joystick speaker buzzer microphone
audio amplifier camera image stepper nema driver a4988 tmc2209 microstep torque gearbox
arduino uno nano mega pico rp2040 stm32 attiny teensy raspberry pi zero linux python
micropython circuitpython platformio ide compile build warning fails works finally thanks
""".split()

PART_NUMBERS = """
ESP32-WROOM-32 ESP32-WROOM-32E ESP32-S3 ESP32-C3 ESP8266 BME280 BMP280 DHT22 DHT11 AM2302 SHT31
SHT45 DS18B20 LM317 LM7805 AMS1117-3.3 AP2112K-3.3 MCP1700 TP4056 MT3608 LM2596 XL6009 HC-SR04
VL53L0X MPU6050 MPU9250 ADS1115 INA219 PCA9685 L298N DRV8825 A4988 TMC2209 SSD1306 SH1106 ST7789
ILI9341 WS2812B SK6812 APA102 NE555 LM358 CH340G CP2102 FT232RL IRLZ44N IRF520 2N2222 BC547 1N4007
1N5819 SS34 MAX7219 MAX31855 HX711 MCP23017 PCF8574 RC522 SIM800L NEO-6M SX1276 RFM95W nRF24L01
""".split()

PINS = "GPIO0 GPIO2 GPIO4 GPIO5 GPIO12 GPIO13 GPIO14 GPIO15 GPIO16 GPIO17 GPIO18 GPIO19 GPIO21 GPIO22 " \
       "GPIO23 GPIO25 GPIO26 GPIO27 GPIO32 GPIO33 GPIO34 GPIO35 SDA SCL MOSI MISO SCK CS TX RX VIN VCC 3V3 " \
       "U1.VCC U2.GND U3.SDA J1.1 R1 R2 C1 C2 D1 Q1".split()

VALUES = "10k 4.7k 220R 1k 100nF 0.1uF 10uF 22pF 470uF 3.3V 5V 12V 500mA 2A 115200 400kHz 16MHz".split()

ZIPF_S = 1.07


def _cumulative(n: int, s: float = ZIPF_S) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank**s) for rank in range(1, n + 1)))


class TextGenerator:
    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        # Technical tokens are mixed into the common words at the tail of the distribution.
        self.vocabulary = COMMON + PART_NUMBERS + PINS + VALUES
        self.cumulative = _cumulative(len(self.vocabulary))

    def words(self, n: int) -> list[str]:
        return self.rng.choices(self.vocabulary, cum_weights=self.cumulative, k=n)

    def message(self, min_words: int = 6, max_words: int = 70) -> str:
        words = self.words(self.rng.randint(min_words, max_words))
        words[0] = words[0].capitalize()
        # A few sentence breaks, and now and then a part number spelled out.
        for i in range(9, len(words), self.rng.randint(8, 14)):
            words[i - 1] += "."
            words[i] = words[i].capitalize()
        if self.rng.random() < 0.3:
            words.insert(self.rng.randrange(len(words)), self.rng.choice(PART_NUMBERS))
        return " ".join(words) + self.rng.choice((".", "?", "!", "."))

    def title(self) -> str:
        return " ".join(self.words(self.rng.randint(2, 6))).capitalize()
